"""How o2c runs: the local all-in-one stack (Temporal dev server, sandbox, worker, API), the demo and the CLI."""
