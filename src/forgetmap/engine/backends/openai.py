"""Any OpenAI-compatible server (vLLM serve, SGLang, TGI, llama.cpp server, hosted APIs).

Chat prompts go to /chat/completions (the server applies the model's chat template), raw prompts
to /completions. Requests run on a bounded thread pool over one httpx client; transport errors,
429 and 5xx answers are retried with exponential backoff; every request carries its own `seed`.
An unreachable server fails once, clearly, before any work starts.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl

from forgetmap.engine.backends.base import Backend
from forgetmap.engine.types import BackendInfo, GenRequest, GenResult
from forgetmap.errors import ForgetmapError
from forgetmap.redact import redact_text, redact_url

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


def normalize_base_url(url: str) -> str:
    """`http://host:8000`, `http://host:8000/` and `http://host:8000/v1` all mean the /v1 API
    (a query string, e.g. `?api_key=...`, is kept after the path)."""
    base, sep, query = url.partition("?")
    base = base.rstrip("/")
    base = base if base.endswith("/v1") else base + "/v1"
    return base + sep + query


class OpenAIBackend(Backend):
    name = "openai"

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        concurrency: int = 16,
        max_retries: int = 5,
        backoff_s: float = 0.5,
        timeout_s: float = 600.0,
        batch_size: int = 64,
        extra_body: dict[str, Any] | None = None,
        chat: bool = True,
        **_: Any,
    ):
        try:
            import httpx
        except ImportError:
            raise ForgetmapError(
                "--backend openai needs httpx: pip install 'forgetmap[openai]'"
            ) from None
        url = base_url or os.environ.get("OPENAI_BASE_URL")
        if not url:
            raise ForgetmapError("--backend openai needs --base-url (or OPENAI_BASE_URL)")
        full = normalize_base_url(url)
        # the real URL (credentials included) lives only in the HTTP client; everything shown
        # or stored (messages, manifest) uses the redacted one
        self.base_url = redact_url(full)
        client_url, _, query = full.partition("?")
        self.model = model
        self.concurrency = max(1, concurrency)
        self.max_retries = max(0, max_retries)
        self.backoff_s = backoff_s
        self.batch_size = batch_size
        self.extra_body = dict(extra_body or {})
        self._chat = chat
        key = api_key or os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._httpx = httpx
        self.client = httpx.Client(
            base_url=client_url,
            params=dict(parse_qsl(query, keep_blank_values=True)),
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=10.0),
            limits=httpx.Limits(max_connections=self.concurrency),
        )
        self._server_models = self._request("GET", "/models").get("data", [])

    # -- http --------------------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: dict | None = None) -> dict:
        last = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1) * (1 + 0.25 * random.random()))
            try:
                resp = self.client.request(method, path, json=body)
            except self._httpx.TransportError as exc:
                last = redact_text(f"{type(exc).__name__}: {exc}")
                continue
            if resp.status_code in RETRY_STATUS:
                last = f"HTTP {resp.status_code}: {resp.text[:200]}"
                continue
            if resp.status_code >= 400:
                raise ForgetmapError(
                    f"server {self.base_url}{path} answered HTTP {resp.status_code}: {resp.text[:300]}"
                )
            try:
                return resp.json()
            except json.JSONDecodeError:
                raise ForgetmapError(
                    f"server {self.base_url}{path} sent a non-JSON answer: {resp.text[:200]!r}"
                ) from None
        raise ForgetmapError(
            f"cannot reach OpenAI-compatible server at {self.base_url} ({method} {path}) after "
            f"{self.max_retries + 1} attempts; last error: {last}"
        )

    def _one(self, r: GenRequest) -> GenResult:
        s = r.sampling
        body: dict[str, Any] = {
            "model": self.model,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_new_tokens,
            "seed": int(s.seed),
            **self.extra_body,
        }
        if s.stop:
            body["stop"] = list(s.stop)
        if r.messages is not None:
            body["messages"] = [dict(m) for m in r.messages]
            out = self._request("POST", "/chat/completions", body)
            ch = out["choices"][0]
            text = (ch.get("message") or {}).get("content") or ""
        else:
            body["prompt"] = r.text
            out = self._request("POST", "/completions", body)
            ch = out["choices"][0]
            text = ch.get("text") or ""
        usage = out.get("usage") or {}
        return GenResult(
            r.key,
            text,
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
            ch.get("finish_reason") or "stop",
        )

    # -- Backend -----------------------------------------------------------------------------------
    @property
    def has_chat_template(self) -> bool:
        return self._chat  # the server owns the template; `chat=False` for base-model servers

    def render_chat(self, messages: Sequence[dict]) -> str:
        return json.dumps([dict(m) for m in messages], ensure_ascii=False)

    def generate(self, requests: Sequence[GenRequest]) -> list[GenResult]:
        with ThreadPoolExecutor(max_workers=min(self.concurrency, max(1, len(requests)))) as pool:
            return list(pool.map(self._one, requests))

    def info(self) -> BackendInfo:
        import httpx

        return BackendInfo(
            backend=self.name,
            model_path=self.model,
            versions={"httpx": httpx.__version__},
            device="remote",
            has_chat_template=self.has_chat_template,
            extra={
                "base_url": self.base_url,
                "server_models": [m.get("id") for m in self._server_models],
                "concurrency": self.concurrency,
                "extra_body": self.extra_body,
            },
        )

    def close(self) -> None:
        self.client.close()
