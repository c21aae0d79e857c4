"""The openai backend against a real OpenAI-compatible server: llama-cpp-python's
`python -m llama_cpp.server` serving SmolLM2-135M-Instruct on a free localhost port.

The server reuses the KV cache of its previous request for a shared prompt prefix; after a request
with the same prompt (the next seed of an item) it evaluates only the last prompt token again,
alone, and llama.cpp's logits for a token evaluated alone differ from those inside a prompt
batch. So by default an answer depends on which request the server served before it (with
--concurrency > 1: on arrival order; the end-to-end test failed now and then, 1 of 8 differing).
`--n_batch 1 --n_ubatch 1` makes the server evaluate every prompt token alone, as in generation:
a request's logits no longer depend on the cache, and a run repeats at any concurrency
(docs/scale-out.md, "Reproducibility")."""

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

# every prompt token evaluated alone: answers independent of the server's earlier requests
INDEPENDENT_REQUESTS = ["--n_batch", "1", "--n_ubatch", "1"]


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
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", threads,
         *INDEPENDENT_REQUESTS],
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
    # per-request seeds and a server whose answers do not depend on its earlier requests: the
    # same run again, its requests arriving in another order (one at a time), gives the same
    # responses
    evaluate(
        "smollm2-135m-instruct", backend="openai", results=b, **{**kw, "concurrency": 1}, **RUN
    )
    assert responses(a) == responses(b)


def _complete(url: str, prompt: str, seed: int) -> tuple[str, list[float]]:
    body = {"prompt": prompt, "max_tokens": 8, "temperature": 0.6, "top_p": 0.95, "top_k": 0,
            "min_p": 0.0, "seed": seed, "logprobs": 1}  # fmt: skip
    ch = httpx.post(url + "/v1/completions", json=body, timeout=300).json()["choices"][0]
    return ch["text"], ch["logprobs"]["token_logprobs"]


def test_answers_do_not_depend_on_the_servers_earlier_requests(server: str) -> None:
    """The cause of the once-flaky test above, checked without luck: the same request (same seed)
    sent after requests that share none, part or all of its prompt gets the same tokens with
    bit-identical log-probabilities. With the server's defaults (n_batch 512) they differ after
    the same prompt (its last token re-evaluated alone; up to 0.05 here), and now and then a
    sampled token does."""
    head = "<|im_start|>system\nYou are a helpful AI assistant.<|im_end|>\n<|im_start|>user\n"
    ask = head + "Which is larger, 7 or 9? Think step by step.<|im_end|>\n<|im_start|>assistant\n"
    others = [
        "Hello",  # nothing shared beyond the first token or two
        head + "Name a color.<|im_end|>\n<|im_start|>assistant\n",  # the system prefix shared
        ask,  # the whole prompt cached
        head + "Which is larger, 7 or 9? Answer in one word.",  # most of the prompt shared
    ]
    seen = []
    for other in others:
        _complete(server, other, seed=1)
        seen.append(_complete(server, ask, seed=0))
    assert all(s == seen[0] for s in seen), seen
