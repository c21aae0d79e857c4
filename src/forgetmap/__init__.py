"""forgetmap: map what post-training forgets, item by item."""

__version__ = "0.1.0"
