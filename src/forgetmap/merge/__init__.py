"""merge layer."""
