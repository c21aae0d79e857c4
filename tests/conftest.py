"""Shared fixtures: the real benchmark data dir and the real small models from PyPI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """../shared/data (or FORGETMAP_DATA_DIR). Missing data is a failure, not a skip."""
    d = Path(os.environ.get("FORGETMAP_DATA_DIR") or ROOT.parent / "shared" / "data")
    assert d.is_dir(), f"benchmark data not found at {d}; set FORGETMAP_DATA_DIR"
    os.environ["FORGETMAP_DATA_DIR"] = str(d)
    return d
