"""One typed interface per vendor role: the role's canonical operations, whichever vendor plays it.

Ports import only canonical/ and activities/contracts/. The activities (activities/<role>.py) call a
port; an adapter (activities/adapters/<vendor>_<role>.py) implements it in one vendor's wire format;
activities/vendors.py picks the adapter per role from the settings.
"""
