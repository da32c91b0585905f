"""Webhook subscribers and the outbox dispatcher of the permits service."""
