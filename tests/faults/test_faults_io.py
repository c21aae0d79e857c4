"""Issue 9, item 9: file-system failures are one line naming the path, exit 2, no partial output
(disk full on import/export/compare --json, read-only results, outputs under a file or onto a
directory, a corrupt GGUF, a results path that is a file)."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import threading
from pathlib import Path

import pyarrow.csv as pacsv
import pytest
from faultkit import cli, forgetmap_argv, on_full_disk, on_read_only, one_line_error

from forgetmap.records import ResultsStore

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store_v1" / "results"
PAIR = ["--before", "base-model", "--after", "smollm2/135m:q4"]


@pytest.fixture()
def res(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "res"))


def _rows(n: int) -> str:
    return "".join(
        json.dumps({"model": "m", "task": "arc:easy", "item_id": f"q{i}", "seed": 0,
                    "correct": True, "response": f"{i} " * 400}) + "\n"
        for i in range(n)
    )  # fmt: skip


def _no_partial(root: Path) -> None:
    """Nothing but what was there: no visible file, and no temp file left behind either."""
    left = [p for p in root.rglob("*") if p.is_file() and p.name != "filler"]
    assert not [p for p in left if ".tmp" in p.name or p.name.startswith(".staging")], left


def test_import_on_a_full_disk(tmp_path: Path) -> None:
    src = tmp_path / "t.jsonl"
    src.write_text(_rows(300))
    mnt = tmp_path / "mnt"
    code, err, errno = on_full_disk(
        setup=[], failing=forgetmap_argv("import", "table", src, "--results", mnt / "res"),
        mount=mnt, copy_to=tmp_path / "after", env=dict(os.environ),
    )  # fmt: skip
    one_line_error(code, err, str(mnt / "res"), errno)
    after = tmp_path / "after"
    assert not list(after.rglob("*.parquet")) and not list(after.rglob("manifest.json"))
    _no_partial(after)


@pytest.mark.parametrize("cmd", ["export", "compare"])
def test_outputs_on_a_full_disk(res: Path, tmp_path: Path, cmd: str) -> None:
    mnt = tmp_path / "mnt"
    out = mnt / "out" / ("x.jsonl" if cmd == "export" else "c.json")
    argv = (
        ["export", "--results", res, "--out", out]
        if cmd == "export"
        else ["compare", "--results", res, *PAIR, "--json", out, "--quiet"]
    )
    code, err, errno = on_full_disk(
        setup=[["mkdir", "-p", str(out.parent)]], failing=forgetmap_argv(*argv), mount=mnt,
        copy_to=tmp_path / "after", env=dict(os.environ),
    )  # fmt: skip
    one_line_error(code, err, str(out), errno)
    assert not list((tmp_path / "after").rglob("*.json*"))
    _no_partial(tmp_path / "after")


def _full_device(tmp_path: Path) -> Path:
    """A /dev/full device node (ENOSPC on every write). As root, a private node in tmp_path, so
    a regression that renames over the target cannot damage the machine's /dev/full; otherwise
    /dev/full itself (a non-root user cannot rename anything over it)."""
    if os.geteuid() == 0:
        node = tmp_path / "full"
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
        return node
    return Path("/dev/full")


@pytest.mark.parametrize("cmd", ["export", "compare"])
def test_outputs_to_a_full_device(res: Path, tmp_path: Path, capsys, cmd: str) -> None:
    dev = _full_device(tmp_path)
    if cmd == "export":
        args = ["export", "--results", res, "--out", dev, "--format", "jsonl"]
    else:
        args = ["compare", "--results", res, *PAIR, "--json", dev, "--quiet"]
    code, _, err = cli(capsys, *args)
    one_line_error(code, err, str(dev), "No space left on device")
    assert dev.is_char_device()  # written through, never replaced by a file
    assert not [p for p in dev.parent.iterdir() if p.name.startswith(".")]


def test_outputs_through_a_pipe_and_a_link(res: Path, tmp_path: Path, capsys) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    assert cli(capsys, "export", "--results", res, "--out", fifo, "--format", "csv")[0] == 0
    reader.join(timeout=60)
    assert pacsv.read_csv(io.BytesIO(got[0])).num_rows == 9 and stat.S_ISFIFO(fifo.lstat().st_mode)
    real, link = tmp_path / "real.json", tmp_path / "link.json"
    real.write_text("old")
    link.symlink_to(real)
    code, _, err = cli(capsys, "compare", "--results", res, *PAIR, "--json", link, "--quiet")
    assert code == 0, err
    assert link.is_symlink() and json.loads(real.read_text())["pairs"][0]["after"] == PAIR[3]


def test_read_only_results_directory(res: Path, tmp_path: Path) -> None:
    src = tmp_path / "t.jsonl"
    src.write_text(_rows(3))
    code, err = on_read_only(
        res, forgetmap_argv("import", "table", src, "--results", res), dict(os.environ)
    )
    line = one_line_error(code, err, str(res))
    assert "read-only" in line.lower() or "permission denied" in line.lower()
    # reading a read-only store works (no lock file can be made there)
    code, err = on_read_only(
        res, forgetmap_argv("export", "--results", res, "--out", tmp_path / "x.csv"),
        dict(os.environ),
    )  # fmt: skip
    assert code == 0, err
    assert pacsv.read_csv(tmp_path / "x.csv").num_rows == 9


def test_output_under_a_file_or_onto_a_directory(res: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "afile").write_text("")
    (tmp_path / "adir").mkdir()
    code, _, err = cli(capsys, "export", "--results", res, "--out", "/dev/null/x.jsonl")
    one_line_error(code, err, "/dev/null", "not a directory")
    code, _, err = cli(capsys, "export", "--results", res, "--out", tmp_path / "afile" / "x.csv")
    one_line_error(code, err, str(tmp_path / "afile"), "not a directory")
    code, _, err = cli(capsys, "compare", "--results", res, *PAIR, "--csv", tmp_path / "adir",
                       "--quiet")  # fmt: skip
    one_line_error(code, err, str(tmp_path / "adir"), "is a directory")
    code, _, err = cli(capsys, "compare", "--results", res, *PAIR, "--json", tmp_path / "adir",
                       "--quiet")  # fmt: skip
    one_line_error(code, err, str(tmp_path / "adir"), "is a directory")
    pairs = tmp_path / "p.tsv"
    pairs.write_text("base-model\tsmollm2/135m:q4\n")
    code, _, err = cli(capsys, "report", "--results", res, "--pairs", pairs, "--out",
                       tmp_path / "afile" / "rep")  # fmt: skip
    one_line_error(code, err, str(tmp_path / "afile"), "not a directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "afile", "p.tsv", "res"]
    assert not list((tmp_path / "adir").iterdir())


def test_results_path_that_is_a_file(tmp_path: Path, capsys) -> None:
    f = tmp_path / "results.parquet"
    f.write_text("")
    for args in (["compare", "--results", f, "--before", "a", "--after", "b"],
                 ["export", "--results", f, "--out", tmp_path / "x.csv"],
                 ["runs", "--results", f]):  # fmt: skip
        code, _, err = cli(capsys, *args)
        one_line_error(code, err, str(f), "is a file")


def test_corrupt_gguf(tmp_path: Path, data_dir, capsys) -> None:
    for name, body in (("noise.gguf", os.urandom(2000)), ("cut.gguf", b"GGUF\x03\x00\x00\x00xx")):
        model = tmp_path / name
        model.write_bytes(body)
        code, _, err = cli(capsys, "eval", "--model", model, "--backend", "llamacpp",
                           "--tasks", "arc:easy", "--limit", "1", "--seeds", "0",
                           "--results", tmp_path / "res", "--no-progress")  # fmt: skip
        one_line_error(code, err, str(model), "GGUF")
    assert not (tmp_path / "res").exists() or not list((tmp_path / "res").rglob("*.parquet"))


def test_store_write_error_names_the_path(tmp_path: Path) -> None:
    """The store's own error for a write into a path blocked by a file."""
    import pyarrow as pa

    from forgetmap.errors import ForgetmapError

    (tmp_path / "res").write_text("")
    with pytest.raises(ForgetmapError, match=r"res.*is a file|not a directory"):
        ResultsStore(tmp_path / "res").append(
            pa.table({"model": ["m"], "task": ["t"], "item_id": ["1"], "seed": [0],
                      "correct": [True]}), "m", "r")  # fmt: skip
