"""vLLM offline engine: tensor parallel, prefix caching, a per-request `SamplingParams(seed=...)`.

The whole runner chunk goes to `LLM.generate` at once (vLLM schedules it with continuous
batching), as token-id prompts so prompt lengths are known: a request whose prompt plus
`max_new_tokens` exceeds `max_model_len` gets its `max_tokens` clamped to the room left, and a
prompt that does not fit at all is recorded with finish_reason `prompt_too_long` (never dropped,
never a crash in the middle of a run). vLLM needs a CUDA GPU; on a CPU machine this backend fails
at once with a clear message. Requests are the real API's types (`vllm.SamplingParams`,
`vllm.inputs.TokensPrompt`), checked against the installed vLLM in tests/test_backend_vllm.py;
tested with vLLM 0.33 (the `vllm` extra's range).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from forgetmap.engine.backends.base import Backend
from forgetmap.engine.types import BackendInfo, GenRequest, GenResult, LoglikRequest, LoglikResult
from forgetmap.errors import ForgetmapError


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


class VLLMBackend(Backend):
    name = "vllm"

    def __init__(
        self,
        model: str,
        tensor_parallel_size: int = 1,
        max_model_len: int | None = None,
        batch_size: int = 1024,
        seed: int = 0,
        trust_remote_code: bool = False,
        dtype: str = "bfloat16",
        gpu_memory_utilization: float = 0.9,
        revision: str | None = None,
        **_: Any,
    ):
        if not cuda_available():
            raise ForgetmapError(
                "--backend vllm needs a CUDA GPU and none was found on this machine; "
                "use --backend hf or llamacpp on CPU"
            )
        try:
            import vllm
            import vllm.inputs
        except ImportError:
            raise ForgetmapError(
                "--backend vllm needs vLLM: pip install 'forgetmap[vllm]'"
            ) from None
        self._vllm = vllm
        self.model_spec = model
        self.tp = tensor_parallel_size
        self.batch_size = batch_size
        self.dtype = dtype
        kw: dict[str, Any] = dict(
            model=model,
            tensor_parallel_size=tensor_parallel_size,
            enable_prefix_caching=True,
            seed=seed,
            trust_remote_code=trust_remote_code,
            dtype=dtype,
            gpu_memory_utilization=gpu_memory_utilization,
        )
        if max_model_len:
            kw["max_model_len"] = max_model_len
        if revision:
            kw["revision"] = revision
        self.llm = vllm.LLM(**{k: v for k, v in kw.items() if v is not None})
        self.tok = self.llm.get_tokenizer()
        self.max_model_len = int(max_model_len or self.llm.llm_engine.model_config.max_model_len)

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tok, "chat_template", None))

    def render_chat(self, messages: Sequence[dict]) -> str:
        return self.tok.apply_chat_template(
            [dict(m) for m in messages], tokenize=False, add_generation_prompt=True
        )

    def _ids(self, r: GenRequest) -> list[int]:
        if r.messages is not None:
            return list(
                self.tok(self.render_chat(r.messages), add_special_tokens=False)["input_ids"]
            )
        return list(self.tok(r.text, add_special_tokens=True)["input_ids"])

    def count_tokens(self, text: str) -> int:
        return len(self.tok(text, add_special_tokens=False)["input_ids"])

    def sampling_params(self, r: GenRequest, n_prompt: int) -> Any:
        """The request's own SamplingParams, max_tokens clamped to the context room left."""
        s = r.sampling
        return self._vllm.SamplingParams(
            seed=int(s.seed),
            temperature=s.temperature,
            top_p=s.top_p,
            max_tokens=max(1, min(s.max_new_tokens, self.max_model_len - n_prompt)),
            stop=list(s.stop) or None,
        )

    def generate(self, requests: Sequence[GenRequest]) -> list[GenResult]:
        ids = [self._ids(r) for r in requests]
        fits = [i for i, x in enumerate(ids) if len(x) < self.max_model_len]
        results: dict[int, GenResult] = {
            i: GenResult(r.key, "", len(ids[i]), 0, "prompt_too_long")
            for i, r in enumerate(requests)
            if i not in set(fits)
        }
        if fits:
            outs = self.llm.generate(
                [self._vllm.inputs.TokensPrompt(prompt_token_ids=ids[i]) for i in fits],
                [self.sampling_params(requests[i], len(ids[i])) for i in fits],
                use_tqdm=False,
            )
            for i, o in zip(fits, outs, strict=False):
                c = o.outputs[0]
                results[i] = GenResult(
                    requests[i].key,
                    c.text,
                    len(ids[i]),
                    len(c.token_ids),
                    c.finish_reason or "stop",
                )
        return [results[i] for i in range(len(requests))]

    def loglik(self, requests: Sequence[LoglikRequest]) -> list[LoglikResult]:
        seqs: list[tuple[int, list[int], int]] = []
        for i, r in enumerate(requests):
            ctx = list(self.tok(r.context, add_special_tokens=True)["input_ids"])
            for c in r.continuations:
                full = list(self.tok(r.context + c, add_special_tokens=True)["input_ids"])
                if full[: len(ctx)] != ctx:
                    full = ctx + list(self.tok(c, add_special_tokens=False)["input_ids"])
                seqs.append((i, full, len(ctx)))
        sp = self._vllm.SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=0.0)
        prompts = [self._vllm.inputs.TokensPrompt(prompt_token_ids=s[1]) for s in seqs]
        outs = self.llm.generate(prompts, sp, use_tqdm=False)
        scores: list[list[float]] = [[] for _ in requests]
        n_in = [0] * len(requests)
        for (i, toks, n_ctx), o in zip(seqs, outs, strict=False):
            lp = o.prompt_logprobs
            scores[i].append(sum(lp[p][toks[p]].logprob for p in range(n_ctx, len(toks))))
            n_in[i] += len(toks)
        return [
            LoglikResult(r.key, tuple(s), n)
            for r, s, n in zip(requests, scores, n_in, strict=False)
        ]

    def info(self) -> BackendInfo:
        return BackendInfo(
            backend=self.name,
            model_path=self.model_spec,
            versions={"vllm": getattr(self._vllm, "__version__", "?")},
            device="cuda",
            dtype=self.dtype,
            has_chat_template=self.has_chat_template,
            extra={"tensor_parallel_size": self.tp, "max_model_len": self.max_model_len},
        )

    def close(self) -> None:
        del self.llm
