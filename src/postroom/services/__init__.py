"""Use cases: what the API and the worker do, written against the ports."""
