"""Performance special cases of the registry, each behind one entry point that may decline."""
