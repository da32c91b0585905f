"""The metrics service: observations."""
