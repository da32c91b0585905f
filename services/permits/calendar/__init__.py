"""The permits service: calendar."""
