"""The permits service: supervision."""
