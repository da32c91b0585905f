"""The permits service: the approval bureau's single window."""
