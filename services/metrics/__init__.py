"""The metrics service: indicator catalog and zone statistics."""
