"""What each vendor role's activities take and give, by name: all that workflows and the API import.

Kept apart from the adapters (activities/*.py) so that importing a contract loads no HTTP client,
database driver or Temporal client.
"""
