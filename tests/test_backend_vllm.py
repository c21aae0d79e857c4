"""The vllm backend against the real vLLM package (requirements/vllm-api.txt, installed by
`make install` without vLLM's CUDA torch).

Real here: `vllm.SamplingParams` (its own validation runs), `vllm.inputs.TokensPrompt`, the
output types (`RequestOutput`, `CompletionOutput`, `Logprob`, `create_prompt_logprobs`), the
signatures of `vllm.LLM.__init__` / `LLM.generate` and the engine arguments (`EngineArgs`), and
the tokenizer (SmolLM2-135M-Instruct's, with its chat template). Faked, because it needs a CUDA
GPU: `vllm.LLM` itself (loading and running the weights) — `GPULessLLM` accepts exactly what the
real constructor and `generate` accept, and answers with real output objects — and the CUDA check.
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Any

import pytest
import vllm  # noqa: E402  (make install: pip install --no-deps -r requirements/vllm-api.txt)
import vllm.inputs  # noqa: E402
from vllm.engine.arg_utils import EngineArgs  # noqa: E402
from vllm.logprobs import Logprob, create_prompt_logprobs  # noqa: E402
from vllm.outputs import CompletionOutput, RequestOutput  # noqa: E402

from forgetmap.engine.backends import load_backend  # noqa: E402
from forgetmap.engine.types import GenRequest, LoglikRequest, SamplingParams  # noqa: E402

ENGINE_ARGS = {f.name for f in dataclasses.fields(EngineArgs)}
REAL_INIT = inspect.signature(vllm.LLM.__init__)  # taken before the tests replace vllm.LLM
REAL_GENERATE = inspect.signature(vllm.LLM.generate)


@pytest.fixture(scope="module")
def tokenizer(smollm2_gguf: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smollm2_gguf.parent, gguf_file=smollm2_gguf.name)


class GPULessLLM:
    """`vllm.LLM` without the GPU work: constructor and generate checked against the real ones."""

    calls: list[dict[str, Any]] = []
    tokenizer: Any = None

    def __init__(self, *args: Any, **kw: Any) -> None:
        bound = REAL_INIT.bind(self, *args, **kw)
        extra = bound.arguments.get("kwargs", {})  # the real LLM hands these to EngineArgs
        unknown = sorted(set(extra) - ENGINE_ARGS)
        assert not unknown, f"not vLLM engine arguments: {unknown}"
        self.init = {k: v for k, v in bound.arguments.items() if k not in ("self", "kwargs")}
        self.init.update(extra)
        cfg = type("ModelConfig", (), {"max_model_len": kw.get("max_model_len") or 2048})()
        self.model_config = cfg
        self.llm_engine = type("Engine", (), {"model_config": cfg})()

    def get_tokenizer(self) -> Any:
        return self.tokenizer

    def generate(self, *args: Any, **kw: Any) -> list[RequestOutput]:
        bound = REAL_GENERATE.bind(self, *args, **kw)
        prompts = bound.arguments["prompts"]
        params = bound.arguments["sampling_params"]
        params = params if isinstance(params, list) else [params] * len(prompts)
        self.calls.append({"prompts": prompts, "params": params, **bound.arguments})
        out = []
        for i, (p, sp) in enumerate(zip(prompts, params, strict=True)):
            assert set(p) >= vllm.inputs.TokensPrompt.__required_keys__
            assert set(p) <= (
                vllm.inputs.TokensPrompt.__required_keys__
                | vllm.inputs.TokensPrompt.__optional_keys__
            )
            assert isinstance(sp, vllm.SamplingParams)
            ids = p["prompt_token_ids"]
            lp = None
            if sp.prompt_logprobs is not None:  # log P(token | before) = -(position / 10)
                lp = create_prompt_logprobs(flat_logprobs=sp.flat_logprobs)  # [None]: token 0
                for pos, tok in enumerate(ids[1:], 1):
                    lp.append({tok: Logprob(logprob=-pos / 10, rank=1)})
            n = min(sp.max_tokens or 1, 3)
            done = CompletionOutput(
                index=0, text=f"out{i}", token_ids=[ids[-1]] * n, cumulative_logprob=None,
                logprobs=None, finish_reason="length",
            )  # fmt: skip
            out.append(RequestOutput(str(i), None, ids, lp, [done], finished=True))
        return out


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch, tokenizer: Any) -> Any:
    GPULessLLM.calls = []
    GPULessLLM.tokenizer = tokenizer
    monkeypatch.setattr(vllm, "LLM", GPULessLLM)
    monkeypatch.setattr("forgetmap.engine.backends.vllm.cuda_available", lambda: True)  # no GPU
    return load_backend("vllm", "org/model", tensor_parallel_size=4, max_model_len=160)


def test_engine_is_built_with_real_arguments(backend: Any) -> None:
    init = backend.llm.init
    assert init["model"] == "org/model" and init["tensor_parallel_size"] == 4
    assert init["enable_prefix_caching"] is True and init["max_model_len"] == 160
    assert init["trust_remote_code"] is False and init["dtype"] == "bfloat16"
    assert backend.has_chat_template and backend.info().versions["vllm"] == vllm.__version__


def test_generate_builds_real_requests(backend: Any, tokenizer: Any) -> None:
    long_text = "word " * 400  # longer than max_model_len: recorded, never sent
    reqs = [
        GenRequest(0, SamplingParams(0.6, 0.95, 1000, seed=2, stop=("\n\nQ",)), text="abc"),
        GenRequest(
            1, SamplingParams(0.6, 0.95, 10, seed=7), messages=({"role": "user", "content": "hi"},)
        ),
        GenRequest(2, SamplingParams(0.6, 0.95, 10, seed=1), text=long_text),
    ]
    out = backend.generate(reqs)
    (call,) = GPULessLLM.calls
    assert call["use_tqdm"] is False and len(call["prompts"]) == 2
    p0, p1 = call["params"]
    n0 = len(tokenizer("abc", add_special_tokens=True)["input_ids"])
    # the request's own seed and sampling; max_tokens clamped to the context room left
    assert (p0.seed, p0.temperature, p0.top_p, p0.max_tokens) == (2, 0.6, 0.95, 160 - n0)
    assert p0.stop == ["\n\nQ"] and p1.stop == [] and (p1.seed, p1.max_tokens) == (7, 10)
    # chat messages go through the model's chat template, without a second BOS
    chat = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert (
        call["prompts"][1]["prompt_token_ids"]
        == tokenizer(chat, add_special_tokens=False)["input_ids"]
    )
    assert [o.text for o in out[:2]] == ["out0", "out1"] and out[0].n_tokens_out == 3
    assert out[0].finish_reason == "length"
    assert (out[2].finish_reason, out[2].text) == ("prompt_too_long", "")


def test_loglik_reads_real_prompt_logprobs(backend: Any, tokenizer: Any) -> None:
    req = LoglikRequest(0, "The answer is", (" A", " B"))
    (res,) = backend.loglik([req])
    (call,) = GPULessLLM.calls
    sp = call["sampling_params"]
    assert isinstance(sp, vllm.SamplingParams)
    assert (sp.max_tokens, sp.prompt_logprobs, sp.temperature) == (1, 0, 0.0)
    n_ctx = len(tokenizer("The answer is", add_special_tokens=True)["input_ids"])
    for score, prompt in zip(res.logliks, call["prompts"], strict=True):
        n = len(prompt["prompt_token_ids"])
        assert score == pytest.approx(sum(-p / 10 for p in range(n_ctx, n)))
