"""Runnable tools that exercise o2c from outside (benchmarks, demos, chaos runs); deploy/ is how o2c runs."""
