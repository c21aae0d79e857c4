"""suite layer."""
