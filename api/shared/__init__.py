"""Plumbing every route shares: keys and scopes, problem+json, correlation ids, body limits, cursors, the
OpenAPI touches, and the handles on Temporal and the store."""
