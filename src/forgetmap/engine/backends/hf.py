"""transformers backend: batched generation with left padding, per-request seeds, chat templates.

Loads a Hub id, a local model directory, a GGUF file (`gguf_file=`, dequantized by
transformers), or a PEFT adapter folder on its base (`base=`, engine.backends.adapters).
bf16 on GPU, fp32 on CPU. Every row of a batch samples from its own `torch.Generator` seeded
with the request's seed (a logits processor draws the token and greedy decoding keeps it), so
seeds are per request, not per batch, and the same run gives the same text.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from forgetmap.engine.backends.adapters import adapter_base, apply_adapter
from forgetmap.engine.backends.base import Backend
from forgetmap.engine.types import (
    BackendInfo,
    GenRequest,
    GenResult,
    LoglikRequest,
    LoglikResult,
    cut_at_stop,
)
from forgetmap.errors import ForgetmapError


def split_model_path(model: str) -> tuple[str, str | None]:
    """(directory or Hub id, gguf file name or None) for a model spec; missing local files fail here."""
    p = Path(model)
    if model.endswith(".gguf"):
        if not p.is_file():
            raise ForgetmapError(f"model file {model} does not exist")
        return str(p.parent), p.name
    if p.is_dir():
        ggufs = sorted(p.glob("*.gguf"))
        if not (p / "config.json").exists() and len(ggufs) == 1:
            return str(p), ggufs[0].name
        if not (p / "config.json").exists() and not ggufs:
            raise ForgetmapError(
                f"model directory {model} has neither config.json nor a .gguf file"
            )
        return str(p), None
    if model.startswith((".", "/", "~")) or p.suffix in (".bin", ".safetensors"):
        raise ForgetmapError(f"model path {model} does not exist")
    return model, None  # a Hub id


class HFBackend(Backend):
    name = "hf"
    order = "length"

    def __init__(
        self,
        model: str,
        batch_size: int = 8,
        trust_remote_code: bool = False,
        device: str | None = None,
        dtype: str | None = None,
        revision: str | None = None,
        deterministic: bool = False,
        base: str | None = None,
        **_: Any,
    ):
        adapter_on = adapter_base(model, base)  # a PEFT adapter folder: its base, merged below
        adapter = model if adapter_on else None
        # missing files fail before heavy imports
        path, gguf_file = split_model_path(adapter_on or model)
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model_spec = model
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.deterministic = deterministic
        if deterministic:
            # bf16 GPU kernels may pick different reduction orders from run to run; sampled
            # continuations then diverge mid-generation (seen on an H200: 377/720 identical).
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
        if os.environ.get("FORGETMAP_THREADS") and self.device == "cpu":
            torch.set_num_threads(
                int(os.environ["FORGETMAP_THREADS"])
            )  # shared CPUs: fewer threads
        torch_dtype = (
            getattr(torch, dtype)
            if dtype
            else (torch.bfloat16 if self.device.startswith("cuda") else torch.float32)
        )
        kw: dict[str, Any] = {"trust_remote_code": trust_remote_code}
        if gguf_file:
            kw["gguf_file"] = gguf_file
        if revision:
            kw["revision"] = revision
        try:
            self.tok = AutoTokenizer.from_pretrained(path, **kw)
            self.model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype, **kw)
        except OSError as exc:
            raise ForgetmapError(f"cannot load model {model} with transformers: {exc}") from None
        except ValueError as exc:
            if "trust_remote_code" in str(exc):
                raise ForgetmapError(
                    f"model {model} needs custom code; rerun with --trust-remote-code if you trust it"
                ) from None
            raise
        if adapter:
            self.model = apply_adapter(self.model, adapter)
        self.model.to(self.device).eval()
        self.dtype = str(torch_dtype).replace("torch.", "")
        self.batch_size = batch_size
        self._ready()

    @classmethod
    def from_loaded(cls, model: Any, tokenizer: Any, name: str, batch_size: int = 8) -> HFBackend:
        """A backend on a model already in memory (a Trainer's, PEFT-wrapped or not): no reload,
        its device and dtype as found, its train/eval mode left alone (`evaluating` switches it
        for a run), and a copy of the tokenizer, so padding settings made here never reach the
        training loop."""
        import copy

        self = cls.__new__(cls)
        param = next(model.parameters())
        self.model_spec, self.model, self.batch_size = name, model, batch_size
        self.device, self.deterministic = str(param.device), False
        self.dtype = str(param.dtype).replace("torch.", "")
        self.tok = copy.deepcopy(tokenizer)
        self._ready()
        return self

    def _ready(self) -> None:
        """Left padding, a pad token, and every end-of-sequence id of model and tokenizer."""
        self.tok.padding_side = "left"
        if self.tok.pad_token_id is None:
            self.tok.pad_token = self.tok.eos_token
        eos = self.model.generation_config.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if self.tok.eos_token_id is not None:
            self.eos_ids.add(self.tok.eos_token_id)

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tok, "chat_template", None))

    def render_chat(self, messages: Sequence[dict]) -> str:
        return self.tok.apply_chat_template(
            [dict(m) for m in messages], tokenize=False, add_generation_prompt=True
        )

    def _prompt_ids(self, req: GenRequest) -> list[int]:
        if req.messages is not None:
            return self.tok(self.render_chat(req.messages), add_special_tokens=False)["input_ids"]
        return self.tok(req.text, add_special_tokens=True)["input_ids"]

    def count_tokens(self, text: str) -> int:
        return len(self.tok(text, add_special_tokens=False)["input_ids"])

    def generate(self, requests: Sequence[GenRequest]) -> list[GenResult]:
        out: list[GenResult] = []
        for i in range(0, len(requests), self.batch_size):
            out.extend(self._generate_batch(requests[i : i + self.batch_size]))
        return out

    def _generate_batch(self, reqs: Sequence[GenRequest]) -> list[GenResult]:
        import torch
        from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

        ids = [self._prompt_ids(r) for r in reqs]
        width = max(map(len, ids))
        pad = self.tok.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(x)) + x for x in ids], device=self.device)
        mask = torch.tensor(
            [[0] * (width - len(x)) + [1] * len(x) for x in ids], device=self.device
        )
        max_new = max(r.sampling.max_new_tokens for r in reqs)
        sampler = _RowSampler(reqs, self.device)
        stopper = _RowStopper(reqs, self.tok, width)
        cfg = GenerationConfig(
            do_sample=False,
            max_new_tokens=max_new,
            pad_token_id=pad,
            eos_token_id=sorted(self.eos_ids) or None,
        )
        with torch.inference_mode():
            seqs = self.model.generate(
                input_ids=input_ids,
                attention_mask=mask,
                generation_config=cfg,
                logits_processor=LogitsProcessorList([sampler]),
                stopping_criteria=StoppingCriteriaList([stopper]),
            )
        results = []
        for row, (req, prompt) in enumerate(zip(reqs, ids, strict=False)):
            new = seqs[row, width:].tolist()[: req.sampling.max_new_tokens]
            n_out, hit_eos = len(new), False
            for j, t in enumerate(new):
                if t in self.eos_ids:
                    n_out, hit_eos = j, True
                    break
            text = self.tok.decode(new[:n_out], skip_special_tokens=True)
            text, hit_stop = cut_at_stop(text, req.sampling.stop)
            if hit_stop:  # tokens up to the one that completed the stop string
                n_out = stopper.stopped_at.get(row, n_out)
            finish = "stop" if (hit_eos or hit_stop) else "length"
            results.append(GenResult(req.key, text, len(prompt), n_out, finish))
        return results

    def loglik(self, requests: Sequence[LoglikRequest]) -> list[LoglikResult]:
        import torch

        seqs: list[tuple[int, list[int], int]] = []  # (request index, tokens, n context tokens)
        for i, r in enumerate(requests):
            ctx = self.tok(r.context, add_special_tokens=True)["input_ids"]
            for c in r.continuations:
                full = self.tok(r.context + c, add_special_tokens=True)["input_ids"]
                if full[: len(ctx)] != ctx:  # tokenization merged across the boundary
                    full = ctx + self.tok(c, add_special_tokens=False)["input_ids"]
                seqs.append((i, full, len(ctx)))
        scores: list[list[float]] = [[] for _ in requests]
        n_in = [0] * len(requests)
        pad = self.tok.pad_token_id
        for b in range(0, len(seqs), self.batch_size):
            chunk = seqs[b : b + self.batch_size]
            width = max(len(s[1]) for s in chunk)
            ids = torch.tensor(
                [s[1] + [pad] * (width - len(s[1])) for s in chunk], device=self.device
            )
            mask = torch.tensor(
                [[1] * len(s[1]) + [0] * (width - len(s[1])) for s in chunk], device=self.device
            )
            with torch.inference_mode():
                logp = torch.log_softmax(
                    self.model(input_ids=ids, attention_mask=mask).logits.float(), -1
                )
            for row, (i, toks, n_ctx) in enumerate(chunk):
                tgt = torch.tensor(toks[n_ctx:], device=self.device)
                pos = torch.arange(n_ctx - 1, len(toks) - 1, device=self.device)
                scores[i].append(float(logp[row, pos, tgt].sum()))
                n_in[i] += len(toks)
        return [
            LoglikResult(r.key, tuple(s), n)
            for r, s, n in zip(requests, scores, n_in, strict=False)
        ]

    def info(self) -> BackendInfo:
        import torch
        import transformers

        return BackendInfo(
            backend=self.name,
            model_path=self.model_spec,
            versions={"torch": torch.__version__, "transformers": transformers.__version__},
            device=self.device,
            dtype=self.dtype,
            has_chat_template=self.has_chat_template,
            extra={"deterministic": self.deterministic},
        )

    def close(self) -> None:
        del self.model


@contextlib.contextmanager
def evaluating(model: Any) -> Iterator[None]:
    """The model in eval mode (no dropout) for the block, then back in the mode it was in."""
    was_training = bool(model.training)
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


class _RowSampler:
    """Logits processor that samples each row with its own seeded generator (temperature, top-p).

    It returns a one-hot mask (0 at the drawn token, -inf elsewhere), which greedy decoding keeps.
    Temperature 0 rows are left untouched (greedy).
    """

    def __init__(self, reqs: Sequence[GenRequest], device: str):
        import torch

        self.params = [r.sampling for r in reqs]
        self.gens = []
        for p in self.params:
            g = torch.Generator(device=device)
            g.manual_seed(int(p.seed))
            self.gens.append(g)

    def __call__(self, input_ids, scores):  # noqa: ANN001 - transformers' signature
        import torch

        out = torch.full_like(scores, float("-inf"))
        sampled = [r for r, p in enumerate(self.params) if p.temperature > 0]
        greedy = [r for r, p in enumerate(self.params) if p.temperature <= 0]
        if greedy:
            out[greedy] = scores[greedy]
        if not sampled:
            return out
        temps = torch.tensor([self.params[r].temperature for r in sampled], device=scores.device)
        top_p = torch.tensor([self.params[r].top_p for r in sampled], device=scores.device)
        probs = torch.softmax(scores[sampled].float() / temps[:, None], -1)
        # stable: tied probabilities (common in bf16) keep token order on every device
        sp, si = torch.sort(probs, descending=True, stable=True)
        keep = (torch.cumsum(sp, -1) - sp) < top_p[:, None]  # always keeps the top token
        sp = sp * keep
        for j, row in enumerate(sampled):  # each row draws from its own seeded generator
            pick = torch.multinomial(sp[j], 1, generator=self.gens[row])
            out[row, si[j, pick]] = 0.0
        return out


class _RowStopper:
    """Per-row stopping: each request's own stop strings and max_new_tokens."""

    def __init__(self, reqs: Sequence[GenRequest], tok: Any, prompt_width: int):
        self.stops = [tuple(s for s in r.sampling.stop if s) for r in reqs]
        self.max_new = [r.sampling.max_new_tokens for r in reqs]
        self.window = [max((len(s) for s in st), default=0) + 4 for st in self.stops]
        self.tok = tok
        self.width = prompt_width
        self.stopped_at: dict[int, int] = {}

    def __call__(self, input_ids, scores, **kwargs):  # noqa: ANN001 - transformers' signature
        import torch

        n_new = input_ids.shape[1] - self.width
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        for row, stops in enumerate(self.stops):
            if row in self.stopped_at:
                done[row] = True
                continue
            if n_new >= self.max_new[row]:
                done[row] = True
                self.stopped_at[row] = self.max_new[row]
                continue
            if stops:
                tail = self.tok.decode(input_ids[row, -min(n_new, self.window[row]) :])
                if any(s in tail for s in stops):
                    done[row] = True
                    self.stopped_at[row] = n_new
        return done
