"""Performance special cases of the push, each behind one entry point that may decline."""
