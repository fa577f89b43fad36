"""Helpers for tests and tools, not the server: a Python client of the demo API and a local server."""
