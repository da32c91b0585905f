"""The permits service: files."""
