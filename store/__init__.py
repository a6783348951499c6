"""The store: the finance read model on SQL (design §7).

SQLAlchemy 2 with psycopg 3 on PostgreSQL in production, SQLite under the data dir for the local
stack. Schema changes go through the Alembic migrations in store/migrations (`o2c db upgrade`).
Writes from activities are idempotent upserts on business keys, because activities run at least once.
"""
