"""The registry service: zones, divisions and their reorganisation history."""
