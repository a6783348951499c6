"""Vendor simulators for o2c: one FastAPI app, wire contract in CONTRACT.md."""
