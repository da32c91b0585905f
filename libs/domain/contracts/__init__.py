"""Pydantic models that are the HTTP API of each service (requests and responses)."""
