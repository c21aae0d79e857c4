"""Backend pieces that need no model: request construction, stop handling, clear errors.

(vLLM's request construction is checked against the real vllm package in
tests/test_backend_vllm.py.)
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from forgetmap.engine.backends import load_backend, resolve_model
from forgetmap.engine.backends.hf import split_model_path
from forgetmap.engine.backends.openai import normalize_base_url
from forgetmap.engine.types import GenRequest, SamplingParams, cut_at_stop
from forgetmap.errors import ForgetmapError


def test_cut_at_stop_takes_earliest_stop() -> None:
    assert cut_at_stop("abc\n\nQuestion: x", ("Question:", "\n\n")) == ("abc", True)
    assert cut_at_stop("no stop here", ("Question:",)) == ("no stop here", False)
    assert cut_at_stop("x", ()) == ("x", False)


def test_request_needs_exactly_one_prompt_form() -> None:
    with pytest.raises(ValueError):
        GenRequest(0, SamplingParams())
    with pytest.raises(ValueError):
        GenRequest(0, SamplingParams(), messages=({"role": "user", "content": "x"},), text="x")


def test_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ForgetmapError, match="nope.gguf does not exist"):
        split_model_path(str(missing))
    with pytest.raises(ForgetmapError, match="does not exist"):
        load_backend("llamacpp", str(missing))
    with pytest.raises(ForgetmapError, match="does not exist"):
        load_backend("hf", str(missing))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ForgetmapError, match="neither config.json nor a .gguf"):
        split_model_path(str(empty))
    with pytest.raises(ForgetmapError, match="unknown backend"):
        load_backend("tgi", "x")


def test_split_model_path_forms(tmp_path: Path, smollm2_gguf: Path) -> None:
    assert split_model_path(str(smollm2_gguf)) == (str(smollm2_gguf.parent), smollm2_gguf.name)
    assert split_model_path("Qwen/Qwen2.5-7B") == ("Qwen/Qwen2.5-7B", None)
    (tmp_path / "config.json").write_text("{}")
    assert split_model_path(str(tmp_path)) == (str(tmp_path), None)


def test_aliases_resolve_to_real_files(smollm2_gguf: Path) -> None:
    assert Path(resolve_model("smollm2-135m-instruct")) == smollm2_gguf
    assert resolve_model("Qwen/Qwen2.5-7B") == "Qwen/Qwen2.5-7B"


def test_normalize_base_url() -> None:
    for url in ("http://h:8000", "http://h:8000/", "http://h:8000/v1", "http://h:8000/v1/"):
        assert normalize_base_url(url) == "http://h:8000/v1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_fails_after_retries() -> None:
    url = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    with pytest.raises(ForgetmapError, match=r"cannot reach .* after 3 attempts"):
        load_backend("openai", "m", base_url=url, max_retries=2, backoff_s=0.01)
    with pytest.raises(ForgetmapError, match="--base-url"):
        load_backend("openai", "m", base_url=None)


def test_vllm_on_cpu_machine_is_a_clear_error() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ForgetmapError, match="needs a CUDA GPU"):
        load_backend("vllm", "Qwen/Qwen2.5-7B")


def test_hf_row_sampler_per_row_seeds_top_p_and_greedy() -> None:
    import torch

    from forgetmap.engine.backends.hf import _RowSampler

    def req(seed: int, t: float = 1.0, p: float = 1.0) -> GenRequest:
        return GenRequest(0, SamplingParams(t, p, 8, seed=seed), text="x")

    torch.manual_seed(0)
    scores = torch.randn(1, 1000).repeat(5, 1)  # five rows, same logits
    rows = [req(3), req(4), req(3), req(9, t=0.0), req(5, p=1e-6)]

    def picks() -> list[int]:
        sampler = _RowSampler(rows, "cpu")
        out = [sampler(None, scores) for _ in range(20)]
        return [[int(o[r].argmax()) for o in out] for r in range(5)]

    a, b = picks(), picks()
    assert a == b  # fresh generators: the same draws again
    assert a[0] == a[2] and a[0] != a[1]  # same seed, same draws; another seed, others
    top = int(scores[0].argmax())
    assert set(a[4]) == {top}  # top_p -> 0 keeps only the most likely token
    s = _RowSampler(rows, "cpu")(None, scores)
    assert torch.equal(s[3], scores[3])  # temperature 0 rows are left to greedy decoding
    assert int((s[0] == 0).sum()) == 1 and torch.isinf(s[0]).sum() == 999  # one-hot draw


@pytest.mark.parametrize("flag", [False, True])
def test_hf_trust_remote_code_only_when_asked(
    flag: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import transformers

    seen: list[bool] = []

    class Stop(Exception):
        pass

    def fake_from_pretrained(path, **kw):  # noqa: ANN001, ANN003, ANN202
        seen.append(kw["trust_remote_code"])
        raise Stop

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", fake_from_pretrained)
    (tmp_path / "config.json").write_text("{}")
    kw = {"trust_remote_code": True} if flag else {}
    with pytest.raises(Stop):
        load_backend("hf", str(tmp_path), **kw)
    assert seen == [flag]


def test_hf_row_sampler_ties_follow_token_order() -> None:
    """Tied probabilities (frequent with bf16 logits) must map a draw to the same token on every
    device: the draw indexes a stably sorted vocabulary (ties in token-id order). Found on an
    H200, where reruns of the same bf16 eval gave identical responses for only 377 of 720
    requests. An unstable sort fails this test on CPU too (ties come back out of token order)."""
    import torch

    from forgetmap.engine.backends.hf import _RowSampler

    vocab = 64
    scores = torch.full((1, vocab), -30.0)
    tied = [5, 17, 18, 40, 63]
    scores[0, tied] = 2.0
    for seed in range(40):
        req = GenRequest(0, SamplingParams(1.0, 1.0, 8, seed=seed), text="x")
        picked = int(_RowSampler([req], "cpu")(None, scores)[0].argmax())
        probs = torch.softmax(scores[0], -1)
        order = sorted(range(vocab), key=lambda t: -float(probs[t]))  # Python's sort is stable
        g = torch.Generator().manual_seed(seed)
        keep = torch.tensor([probs[t] for t in order])
        expect = order[int(torch.multinomial(keep, 1, generator=g))]
        assert picked == expect, seed
