"""The metrics service: analysis."""
