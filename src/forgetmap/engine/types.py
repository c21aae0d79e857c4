"""What the runner hands a backend and what it gets back.

Requests are plain dataclasses (picklable: they cross process boundaries to Ray actors). A
request carries either chat `messages` (the backend applies the model's chat template) or a raw
completion `text`, plus its own seed and sampling parameters, so one batch may mix seeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SamplingParams:
    """Sampling settings of one request (temperature 0 means greedy)."""

    temperature: float = 0.6
    top_p: float = 0.95
    max_new_tokens: int = 32768
    seed: int = 0
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class GenRequest:
    """One generation: exactly one of `messages` (chat) or `text` (completion) is set."""

    key: int
    sampling: SamplingParams
    messages: tuple[dict, ...] | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.text is None):
            raise ValueError("GenRequest needs exactly one of messages or text")


@dataclass(frozen=True)
class GenResult:
    """A finished generation: text is cut before the first stop string (stop string excluded)."""

    key: int
    text: str
    n_tokens_in: int
    n_tokens_out: int
    finish_reason: str  # "stop" (EOS or a stop string) or "length"


@dataclass(frozen=True)
class LoglikRequest:
    """Score each continuation after a context (the `loglik` elicitation)."""

    key: int
    context: str
    continuations: tuple[str, ...]


@dataclass(frozen=True)
class LoglikResult:
    key: int
    logliks: tuple[float, ...]  # sum of token log-probs of each continuation
    n_tokens_in: int = 0


@dataclass
class BackendInfo:
    """Run-manifest facts about a loaded backend."""

    backend: str
    model_path: str
    versions: dict[str, str] = field(default_factory=dict)
    device: str = "cpu"
    dtype: str | None = None
    has_chat_template: bool = False
    extra: dict = field(default_factory=dict)


def cut_at_stop(text: str, stop: tuple[str, ...] | list[str]) -> tuple[str, bool]:
    """Cut `text` before the earliest stop string; returns (text, whether a stop string was hit)."""
    cut = len(text)
    for s in stop:
        if s:
            i = text.find(s)
            if i != -1 and i < cut:
                cut = i
    return text[:cut], cut < len(text)
