"""The metrics service: indicators."""
