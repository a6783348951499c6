"""Temporal activities, one module per vendor domain; each module's adapter is the only code that
knows that vendor's wire format."""
