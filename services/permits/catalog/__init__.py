"""The permits service: catalog."""
