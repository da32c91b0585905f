"""What every bounded context shares: values, errors, the working-day calendar, shared contracts.

The kernel imports nothing else from ``libs.domain``."""
