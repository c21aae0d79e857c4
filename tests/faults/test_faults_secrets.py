"""Issue 9, items 10-11: credentials in --base-url never reach the results directory, the logs or
an error message; model and task names carry no raw HTML into the Markdown tables."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from faultkit import forgetmap_argv, one_line_error

SECRET = "s3cr3t-K3Y-9f8e7d"


@pytest.mark.parametrize(
    ("url", "want"),
    [
        (f"http://user:{SECRET}@host:8000/v1", "http://***@host:8000/v1"),
        (f"https://{SECRET}@api.example.com", "https://***@api.example.com"),
        (f"http://h/v1?api_key={SECRET}&x=1", "http://h/v1?api_key=***&x=1"),
        (f"http://h/v1?key={SECRET}", "http://h/v1?key=***"),
        (f"http://h/v1?access_token={SECRET}", "http://h/v1?access_token=***"),
        ("http://host:8000/v1?model=a", "http://host:8000/v1?model=a"),
        ("not a url", "not a url"),
    ],
)
def test_redact_url(url: str, want: str) -> None:
    from forgetmap.redact import redact_url

    assert redact_url(url) == want


def test_redact_text_finds_urls_and_keys_in_prose() -> None:
    from forgetmap.redact import redact_text

    msg = (
        f"cannot reach http://u:{SECRET}@h:1/v1 (GET /models); argv --base-url=http://u:{SECRET}@h "
        f"Authorization: Bearer {SECRET} OPENAI_API_KEY={SECRET} --api-key {SECRET}"
    )
    out = redact_text(msg)
    assert SECRET not in out and "http://***@h:1/v1" in out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _grep(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]


def test_unreachable_server_error_has_no_secret(data_dir, tmp_path: Path) -> None:
    res = tmp_path / "res"
    url = f"http://admin:{SECRET}@127.0.0.1:{_free_port()}"
    r = subprocess.run(
        forgetmap_argv("eval", "--model", "m", "--backend", "openai", "--base-url", url,
                       "--tasks", "arc:easy", "--limit", "1", "--seeds", "0", "--results", res,
                       "--no-progress"),
        capture_output=True, text=True, env={**os.environ, "FORGETMAP_DATA_DIR": str(data_dir)},
        timeout=300,
    )  # fmt: skip
    one_line_error(r.returncode, r.stderr, "http://***@127.0.0.1")
    assert SECRET not in r.stdout + r.stderr
    assert not res.exists() or not _grep(res)


@pytest.mark.parametrize(
    "url",
    [f"http://u:{SECRET}@127.0.0.1:{{port}}/v1", f"http://127.0.0.1:{{port}}?api_key={SECRET}"],
)
def test_backend_errors_have_no_secret(url: str) -> None:
    from forgetmap.engine.backends.openai import OpenAIBackend
    from forgetmap.errors import ForgetmapError

    with pytest.raises(ForgetmapError) as exc:
        OpenAIBackend("m", base_url=url.format(port=_free_port()), max_retries=0)
    assert SECRET not in str(exc.value) and "***" in str(exc.value)


@pytest.mark.slow
def test_real_server_run_keeps_no_secret(smollm2_gguf: Path, data_dir, tmp_path: Path) -> None:
    """A real OpenAI-compatible server (llama-cpp-python's) behind a URL with credentials: the
    run succeeds, and neither the results directory, nor the output, nor a report holds the key."""
    import time

    import httpx

    port = _free_port()
    log = open(tmp_path / "server.log", "w+b")  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_gguf),
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "1"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.time() + 120
        while True:
            assert server.poll() is None and time.time() < deadline, "server did not start"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        env = {**os.environ, "FORGETMAP_DATA_DIR": str(data_dir)}
        res, outputs = tmp_path / "res", []
        for name in ("before", "after"):
            r = subprocess.run(
                forgetmap_argv("eval", "--model", "smol", "--model-name", name, "--backend",
                               "openai", "--base-url", f"http://admin:{SECRET}@127.0.0.1:{port}",
                               "--tasks", "arc:easy", "--limit", "2", "--seeds", "0",
                               "--max-new-tokens", "16", "--results", res, "--json"),
                capture_output=True, text=True, env=env, timeout=600,
            )  # fmt: skip
            assert r.returncode == 0, r.stderr[-2000:]
            outputs.append(r.stdout + r.stderr)
        pairs = tmp_path / "pairs.tsv"
        pairs.write_text("before\tafter\n")
        r = subprocess.run(
            forgetmap_argv("report", "--results", res, "--pairs", pairs, "--out", tmp_path / "rep"),
            capture_output=True, text=True, env=env, timeout=600,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr[-2000:]
        outputs.append(r.stdout + r.stderr)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    assert not [o for o in outputs if SECRET in o]
    assert not _grep(res) and not _grep(tmp_path / "rep")
    from forgetmap.records import ResultsStore

    store = ResultsStore(res)
    man = store.read_manifest("before", store.runs("before")[0])
    assert man["backend_info"]["base_url"] == f"http://***@127.0.0.1:{port}/v1"


def test_markdown_tables_escape_html(tmp_path: Path) -> None:
    from forgetmap.analysis.compare import compare
    from forgetmap.records import conform
    from forgetmap.report.model import build_model
    from forgetmap.report.tables import build_parts, to_markdown

    before, after = "<img src=x onerror=alert(1)>", "org/<b>after</b>|x"
    task = "<script>alert(1)</script>:sub"
    rows = [
        {"model": m, "task": task, "item_id": f"q{i}", "seed": s, "n_choices": 4, "gold": "A",
         "correct": (i + s + (m == after)) % 3 == 0}
        for m in (before, after) for i in range(12) for s in (0, 1)
    ]  # fmt: skip
    cmp = compare(conform(pa.Table.from_pylist(rows)), [(before, after)], bootstrap=0)
    model = build_model(cmp, {"<i>group</i>": [(before, after)]})
    for metric in ("F_true", "BT_true"):
        md = to_markdown(build_parts(model, metric))
        for raw in ("<img", "<b>", "<script>", "<i>"):
            assert raw not in md, (raw, md)
        assert "&lt;script&gt;" in md and "&lt;img src=x onerror=alert(1)&gt;" in md
        assert "\\|x" in md  # a pipe in a name does not split the table cell
