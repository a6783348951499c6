"""Canonical business objects shared by every part of o2c. Imports nothing of ours."""
