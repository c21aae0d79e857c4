"""llama-cpp-python backend on GGUF files (CPU or GPU offload).

Requests run one after another in the order the runner gives (sorted by prompt), so the KV cache
prefix of the previous request is reused: the seeds of one prompt cost one prompt evaluation.
Sampling is plain temperature + top-p with each request's own seed (llama.cpp's default top-k 40
and min-p 0.05 are switched off so it samples the same distribution as the other backends).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from forgetmap.engine.backends.base import Backend
from forgetmap.engine.types import (
    BackendInfo,
    GenRequest,
    GenResult,
    LoglikRequest,
    LoglikResult,
)
from forgetmap.errors import ForgetmapError


class LlamaCppBackend(Backend):
    name = "llamacpp"

    def __init__(
        self,
        model: str,
        batch_size: int = 1,  # requests run one by one; 1 lets --flush-size act per request
        n_ctx: int | None = None,
        max_model_len: int | None = None,
        n_gpu_layers: int = 0,
        n_threads: int | None = None,
        need_loglik: bool = False,
        **_: Any,
    ):
        path = Path(model)
        if path.is_dir():
            ggufs = sorted(path.glob("*.gguf"))
            if len(ggufs) != 1:
                raise ForgetmapError(
                    f"--backend llamacpp needs one .gguf file; {model} holds {len(ggufs)}"
                )
            path = ggufs[0]
        if not path.is_file():
            raise ForgetmapError(
                f"model file {model} does not exist (llamacpp needs a local .gguf)"
            )
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ForgetmapError(
                "--backend llamacpp needs llama-cpp-python: pip install 'forgetmap[llamacpp]'"
            ) from None
        self.path = path
        _check_gguf(path)
        try:
            self.llm = Llama(
                model_path=str(path),
                n_ctx=n_ctx or max_model_len or 4096,
                n_gpu_layers=n_gpu_layers,
                n_threads=n_threads
                or int(os.environ.get("FORGETMAP_THREADS", 0))
                or max(1, (os.cpu_count() or 2) // 2),
                seed=0,
                logits_all=need_loglik,
                verbose=False,
            )
        except ValueError as exc:  # llama-cpp-python's "Failed to load model from file"
            raise ForgetmapError(
                f"{path}: llama.cpp cannot load this GGUF model (corrupt or truncated file, or an "
                f"architecture this llama.cpp does not know): {str(exc).splitlines()[0]}"
            ) from None
        self.need_loglik = need_loglik
        self.batch_size = batch_size
        self._formatter = None
        template = self.llm.metadata.get("tokenizer.chat_template")
        if template:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            vocab = self.llm._model
            self._formatter = Jinja2ChatFormatter(
                template,
                eos_token=vocab.token_get_text(self.llm.token_eos()),
                bos_token=vocab.token_get_text(self.llm.token_bos()),
            )

    @property
    def has_chat_template(self) -> bool:
        return self._formatter is not None

    def render_chat(self, messages: Sequence[dict]) -> str:
        if self._formatter is None:
            raise ForgetmapError(f"model {self.path} has no chat template")
        return self._formatter(messages=[dict(m) for m in messages]).prompt

    def _tokens(self, req: GenRequest) -> list[int]:
        if req.messages is not None:  # the template writes any special tokens itself
            return self.llm.tokenize(
                self.render_chat(req.messages).encode(), add_bos=False, special=True
            )
        return self.llm.tokenize(req.text.encode(), add_bos=True, special=False)

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode(), add_bos=False, special=True))

    def generate(self, requests: Sequence[GenRequest]) -> list[GenResult]:
        out = []
        n_ctx = self.llm.n_ctx()
        for r in requests:
            toks = self._tokens(r)
            s = r.sampling
            room = n_ctx - len(toks)
            if room <= 0:
                out.append(GenResult(r.key, "", len(toks), 0, "prompt_too_long"))
                continue
            resp = self.llm.create_completion(
                toks,
                max_tokens=min(s.max_new_tokens, room),
                temperature=s.temperature,
                top_p=s.top_p,
                top_k=0,
                min_p=0.0,
                repeat_penalty=1.0,
                stop=list(s.stop) or None,
                seed=int(s.seed),
            )
            ch = resp["choices"][0]
            usage = resp["usage"]
            out.append(
                GenResult(
                    r.key,
                    ch["text"],
                    usage["prompt_tokens"],
                    usage["completion_tokens"],
                    ch.get("finish_reason") or "length",
                )
            )
        return out

    def loglik(self, requests: Sequence[LoglikRequest]) -> list[LoglikResult]:
        import numpy as np

        if not self.need_loglik:
            raise ForgetmapError("llamacpp backend was loaded without need_loglik=True")
        out = []
        for r in requests:
            ctx = self.llm.tokenize(r.context.encode(), add_bos=True, special=False)
            vals, n_in = [], 0
            for c in r.continuations:
                full = self.llm.tokenize((r.context + c).encode(), add_bos=True, special=False)
                if full[: len(ctx)] != ctx:
                    full = ctx + self.llm.tokenize(c.encode(), add_bos=False, special=False)
                self.llm.reset()
                self.llm.eval(full)
                logits = np.asarray(self.llm.scores[: len(full) - 1], dtype=np.float64)
                logits -= logits.max(-1, keepdims=True)
                logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
                pos = np.arange(len(ctx) - 1, len(full) - 1)
                vals.append(float(logp[pos, np.asarray(full[len(ctx) :])].sum()))
                n_in += len(full)
            out.append(LoglikResult(r.key, tuple(vals), n_in))
        return out

    def info(self) -> BackendInfo:
        import llama_cpp

        return BackendInfo(
            backend=self.name,
            model_path=str(self.path),
            versions={"llama_cpp_python": llama_cpp.__version__},
            device="cpu" if not self.llm.model_params.n_gpu_layers else "gpu-offload",
            dtype=self.llm.metadata.get("general.file_type"),
            has_chat_template=self.has_chat_template,
            extra={"n_ctx": self.llm.n_ctx()},
        )

    def close(self) -> None:
        self.llm.close()


def _check_gguf(path: Path) -> None:
    """A file that does not even start with the GGUF magic is refused before llama.cpp sees it."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise ForgetmapError(f"{path}: cannot read the model file ({exc.strerror})") from None
    if head[:4] != b"GGUF":
        raise ForgetmapError(f"{path}: not a GGUF model file (it does not start with 'GGUF')")
