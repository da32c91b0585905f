"""Reports computed live from the registry and metrics: indicator bulletins and target progress."""
