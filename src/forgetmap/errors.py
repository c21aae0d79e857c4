"""User-facing errors. The CLI prints these without a traceback and exits 2."""


class ForgetmapError(Exception):
    """An error caused by the user's input (file, flag, data), with a message that says what to fix."""


class SchemaError(ForgetmapError):
    """A record table misses a column or has one of the wrong type."""


class DataError(ForgetmapError):
    """Benchmark or log data is missing or malformed."""
