"""Layer 6: the thin command line over the library API."""
