"""`data pull` / `data check` internals on hand-picked files: writers per local format, the
manifest, resuming, one-line failures. The Hub is served from the shared data folder's copies of
the same files (tests/localhub.py); the network is the only thing not exercised."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from localhub import LOCAL_SHA, LocalHub

from forgetmap.errors import DataError
from forgetmap.suite.datafiles import DataFile, HubSource, Manifest, UrlSource, count_rows
from forgetmap.suite.pull import HubOffline, pull

ANATOMY = "mmlu/hails/mmlu_no_train/anatomy/test"
COT = "bbh/cot-prompts/navigate.txt"
COT_URL = "https://raw.githubusercontent.com/example/bbh/0000/cot-prompts/navigate.txt"
FILES = [
    DataFile("mmlu", ANATOMY, "arrow", HubSource("cais/mmlu", "anatomy", "test", "main")),
    DataFile("bbh", "bbh/bbh/navigate.json", "bbh_json", HubSource("lukaemon/bbh", "navigate", "test", "main")),
    DataFile("bbh", COT, "text", UrlSource(COT_URL), role="description"),
    DataFile("gpqa", "gpqa/gpqa_diamond.csv", "csv", HubSource("Idavidrein/gpqa", "gpqa_diamond", "train", "main")),
    DataFile("truthfulqa", "truthfulqa/data/v0/mc_task.json", "json",
             HubSource("truthfulqa/truthful_qa", "multiple_choice", "validation", "main")),
    DataFile("ifeval", "ifeval/input_data.jsonl", "jsonl", HubSource("google/IFEval", None, "train", "main")),
]  # fmt: skip


@pytest.fixture()
def hub(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> LocalHub:
    h = LocalHub(data_dir)
    for f in FILES:
        if isinstance(f.source, HubSource):
            h.routes[(f.source.id, f.source.config, f.source.split)] = (f.path, f.format)
        else:
            h.urls[f.source.url] = data_dir / f.path
    return h.install(monkeypatch)


def test_pull_writes_each_format_and_a_manifest(
    hub: LocalHub, data_dir: Path, tmp_path: Path
) -> None:
    report = pull(FILES, tmp_path)
    assert report.ok and report.resolved["cais/mmlu@main"] == LOCAL_SHA
    assert sum(map(len, report.written.values())) == len(FILES)
    # the Hub was asked for the resolved commit, not for "main"
    assert {c[3] for c in hub.calls} == {LOCAL_SHA}
    man = Manifest.read(tmp_path)
    assert man is not None
    files = man.files("mmlu")
    arrow = f"{ANATOMY}/data-00000-of-00001.arrow"
    assert files[arrow]["rows"] == 135 and len(files[arrow]["sha256"]) == 64
    assert files[arrow]["source"] == f"hub:cais/mmlu/anatomy:test@{LOCAL_SHA}"
    assert {s["resolved_revision"] for s in man.benchmarks["mmlu"]["sources"]} == {LOCAL_SHA}
    assert man.files("bbh")[COT]["source"] == COT_URL
    # same rows as the official files, in the same order
    for f in FILES:
        if f.format != "text":
            assert count_rows(tmp_path / f.path, f.format) == count_rows(
                data_dir / f.path, f.format
            )
    assert (tmp_path / COT).read_bytes() == (data_dir / COT).read_bytes()
    assert (
        json.loads((tmp_path / "bbh/bbh/navigate.json").read_text())["examples"][0]
        == json.loads((data_dir / "bbh/bbh/navigate.json").read_text())["examples"][0]
    )


def test_pull_resumes_after_an_interruption(hub: LocalHub, tmp_path: Path) -> None:
    hub.fail_after = 2
    with pytest.raises(KeyboardInterrupt):
        pull(FILES, tmp_path)
    first = Manifest.read(tmp_path)
    assert first is not None and set(first.benchmarks) == {"mmlu", "bbh"}
    assert not list(tmp_path.rglob(".*.tmp"))  # nothing half-written left in place
    hub.fail_after = None
    hub.calls.clear()
    report = pull(FILES, tmp_path)
    assert report.ok
    assert report.kept == {"mmlu": [ANATOMY], "bbh": ["bbh/bbh/navigate.json", COT]}
    assert [c[0] for c in hub.calls] == [
        "Idavidrein/gpqa",
        "truthfulqa/truthful_qa",
        "google/IFEval",
    ]
    # a file changed on disk since the manifest is fetched again
    (tmp_path / "gpqa/gpqa_diamond.csv").write_text("Question\nx\n")
    again = pull(FILES, tmp_path)
    assert again.written == {"gpqa": ["gpqa/gpqa_diamond.csv"]}


def test_offline_is_one_line_and_stops(hub: LocalHub, tmp_path: Path) -> None:
    hub.offline = True
    with pytest.raises(HubOffline) as exc:
        pull(FILES, tmp_path)
    msg = str(exc.value)
    assert "\n" not in msg and "cannot reach the Hugging Face Hub" in msg
    assert "FORGETMAP_DATA_DIR" in msg and hub.calls == []


def test_gated_dataset_fails_alone_with_what_to_do(hub: LocalHub, tmp_path: Path) -> None:
    hub.gated.add("Idavidrein/gpqa")
    report = pull(FILES, tmp_path)
    assert set(report.failed) == {"gpqa"}
    msg = report.failed["gpqa"]
    assert "\n" not in msg and "gated" in msg and "huggingface-cli login" in msg
    assert "https://huggingface.co/datasets/Idavidrein/gpqa" in msg
    assert set(report.written) == {"mmlu", "bbh", "truthfulqa", "ifeval"}


def test_not_found_and_bad_url(hub: LocalHub, tmp_path: Path) -> None:
    missing = DataFile("x", "x/y.jsonl", "jsonl", HubSource("someone/gone", None, "train", "main"))
    report = pull([missing], tmp_path)
    assert "someone/gone not found on the Hub" in report.failed["x"]
    pinned = DataFile("bbh", COT, "text", UrlSource(COT_URL, sha256="0" * 64), role="description")
    report = pull([pinned], tmp_path)
    assert "not the official file" in report.failed["bbh"] and not (tmp_path / COT).exists()


def test_manifest_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "MANIFEST.json").write_text('{"benchmarks": {"mmlu": {"files": 3}}}')
    with pytest.raises(DataError, match=r"MANIFEST.json: malformed manifest"):
        Manifest.read(tmp_path)
    shutil.rmtree(tmp_path)
    assert Manifest.read(tmp_path) is None


def test_check_finds_a_truncated_file_even_with_its_hash_fixed_up(
    hub: LocalHub, tmp_path: Path
) -> None:
    """Row counts are checked against the manifest on their own (a hand-edited manifest)."""
    from forgetmap.suite.check import check_folder
    from forgetmap.suite.datafiles import sha256_file

    files = [f for f in FILES if f.benchmark == "ifeval"]
    assert pull(files, tmp_path).ok
    path = tmp_path / "ifeval/input_data.jsonl"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-1]))
    doc = json.loads((tmp_path / "MANIFEST.json").read_text())
    entry = doc["benchmarks"]["ifeval"]["files"]["ifeval/input_data.jsonl"]
    entry.update(sha256=sha256_file(path), bytes=path.stat().st_size)
    (tmp_path / "MANIFEST.json").write_text(json.dumps(doc))
    (res,) = check_folder(tmp_path, files, [], lambda t: None)
    assert res.status == "mismatch" and res.hashes == "1/1 match"
    assert res.problems == [f"{path}: 540 rows, 541 in MANIFEST.json"]
