"""Adapters: the only code that knows a vendor's wire format, each implementing its role's port."""
