"""The vendor adapters: the only code that knows a vendor's wire format (one module per vendor and role)."""
