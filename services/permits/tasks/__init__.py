"""The permits service: tasks."""
