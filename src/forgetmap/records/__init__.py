"""Layer 1: the per-sample record contract (docs/records.md), its Parquet store and manifest."""

from forgetmap.records.keys import check_unique_keys, key_codes
from forgetmap.records.schema import (
    CONTRACT_COLUMNS,
    RECORD_SCHEMA,
    REQUIRED_COLUMNS,
    conform,
    model_slug,
)
from forgetmap.records.store import ResultsStore, read_records

__all__ = [
    "CONTRACT_COLUMNS",
    "RECORD_SCHEMA",
    "REQUIRED_COLUMNS",
    "ResultsStore",
    "check_unique_keys",
    "conform",
    "key_codes",
    "model_slug",
    "read_records",
]
