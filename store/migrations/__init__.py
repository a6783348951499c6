"""Alembic migrations of the store; run them with store.migrate (or `o2c db upgrade`)."""
