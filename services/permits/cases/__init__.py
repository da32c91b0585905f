"""The permits service: cases."""
