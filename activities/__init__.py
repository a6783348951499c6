"""Temporal activities, one module per vendor role, over that role's port (ports/); the adapters
(adapters/) are the only code that knows a vendor's wire format; vendors.py composes them."""
