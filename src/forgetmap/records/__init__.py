"""Layer 1: the per-sample record contract (docs/records.md), its Parquet store and manifest."""

from forgetmap.records.keys import check_unique_keys, key_codes
from forgetmap.records.names import check_model_name, model_dir_name
from forgetmap.records.schema import (
    CONTRACT_COLUMNS,
    RECORD_SCHEMA,
    REQUIRED_COLUMNS,
    conform,
    model_slug,
)
from forgetmap.records.store import (
    DUPLICATE_POLICIES,
    DuplicateKeysError,
    ResultsStore,
    RunInfo,
    WriteResult,
    read_records,
)

__all__ = [
    "CONTRACT_COLUMNS",
    "DUPLICATE_POLICIES",
    "RECORD_SCHEMA",
    "REQUIRED_COLUMNS",
    "DuplicateKeysError",
    "ResultsStore",
    "RunInfo",
    "WriteResult",
    "check_model_name",
    "check_unique_keys",
    "conform",
    "key_codes",
    "model_dir_name",
    "model_slug",
    "read_records",
]
