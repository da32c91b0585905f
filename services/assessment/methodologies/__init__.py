"""Methodologies: published, versioned, immutable documents."""
