"""The thin HTTP front of o2c: starts, signals, updates and queries order workflows (design §5).

Entry point: `uvicorn --factory api.app:create_app`.
"""
