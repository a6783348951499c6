"""What o2c asks of each vendor role, in canonical terms (one typing.Protocol per role)."""
