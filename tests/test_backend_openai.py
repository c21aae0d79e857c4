"""The openai backend against a real OpenAI-compatible server: llama-cpp-python's
`python -m llama_cpp.server` serving SmolLM2-135M-Instruct on a free localhost port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from test_engine_e2e import RUN, check_records, responses

from forgetmap.engine.runner import evaluate
from forgetmap.records import ResultsStore

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(smollm2_gguf: Path, tmp_path_factory: pytest.TempPathFactory):
    port = _free_port()
    log = open(tmp_path_factory.mktemp("server") / "server.log", "w+b")  # noqa: SIM115
    threads = os.environ.get("FORGETMAP_THREADS") or str(max(1, (os.cpu_count() or 2) // 2))
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_gguf),
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", threads],
        stdout=log, stderr=subprocess.STDOUT,  # a file: a full pipe would block the server
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        if proc.poll() is not None:
            log.seek(0)
            raise AssertionError(log.read().decode()[-2000:])
        try:
            if httpx.get(url + "/v1/models", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.time() < deadline, "llama_cpp.server did not come up"
        time.sleep(0.3)
    yield url
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def test_openai_backend_end_to_end(server: str, data_dir: Path, tmp_path: Path) -> None:
    # llama.cpp's server defaults to top_k=40 / min_p=0.05; switch them off as the other backends do
    kw = dict(base_url=server, concurrency=4, extra_body={"top_k": 0, "min_p": 0.0})
    a, b = tmp_path / "a", tmp_path / "b"
    s = evaluate("smollm2-135m-instruct", backend="openai", results=a, **kw, **RUN)
    assert s.n_written == 8 and s.elicitation == "cot_chat"
    t = ResultsStore(a).read()
    check_records(t, "smollm2-135m-instruct", "cot_chat")
    man = ResultsStore(a).read_manifest("smollm2-135m-instruct", s.run_id)
    assert man["backend"] == "openai" and man["backend_info"]["base_url"] == server + "/v1"
    # per-request seeds: the same run again gives the same responses
    evaluate("smollm2-135m-instruct", backend="openai", results=b, **kw, **RUN)
    assert responses(a) == responses(b)
