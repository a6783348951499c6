#!/bin/sh
# Temporal's own tables in PostgreSQL (databases temporal and temporal_visibility), from the schema the
# pinned admin-tools image carries. Safe to run on every `docker compose up`: create fails harmlessly
# once the database exists, setup-schema once it is set up, and update-schema applies only what is missing.
set -eu
until nc -z "$POSTGRES_SEEDS" "$DB_PORT"; do echo "waiting for PostgreSQL"; sleep 1; done
sql() { temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" "$@"; }
for pair in temporal:temporal temporal_visibility:visibility; do
  db="${pair%%:*}"; schema="${pair##*:}"
  sql --db "$db" create || echo "database $db exists"
  sql --db "$db" setup-schema -v 0.0 || echo "schema of $db already set up"
  sql --db "$db" update-schema -d "/etc/temporal/schema/postgresql/v12/$schema/versioned"
done
