"""Support: the codec endpoint the Temporal UI decodes payloads through."""
