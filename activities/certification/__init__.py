"""Contract suites per vendor role, run against a live endpoint through the role's adapter (the one the
composition builds) and a fault-injecting proxy: by `o2c certify` (tools/certify.py) and by the daily contract
checks (activities/contract_checks.py)."""
