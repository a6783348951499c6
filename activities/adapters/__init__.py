"""The adapters: the only code that knows a vendor's wire format (`<vendor>_<role>.py`), each
implementing its role's port (activities/ports/) over activities/vendor_http.py."""
