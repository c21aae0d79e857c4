"""Credentials never leave the process: redaction of URLs, keys and tokens in text and manifests.

`--base-url http://user:KEY@host/v1` or `...?api_key=KEY` must work, but the key must not reach a
manifest, a log line, an error message or a report. Everything that writes such text passes it
through `redact_text` / `redact_obj` (the results store does for every manifest, the CLI for every
error message); the backend keeps the real URL only in its HTTP client.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

MASK = "***"
# query parameters and CLI/env names whose value is a credential
SECRET_NAMES = (
    "api_key", "api-key", "apikey", "key", "token", "access_token", "auth", "authorization",
    "password", "passwd", "secret", "client_secret", "sig", "signature", "x-api-key",
)  # fmt: skip
# names that mark a credential in free text (`OPENAI_API_KEY=...`, `--api-key X`, `token: ...`)
TEXT_NAMES = (
    "api_key", "api-key", "apikey", "access_token", "auth_token", "token", "password", "passwd",
    "secret", "client_secret",
)  # fmt: skip
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
_NAMES = "|".join(re.escape(n) for n in sorted(TEXT_NAMES, key=len, reverse=True))
_ASSIGN = re.compile(
    rf"(?i)(?<![A-Za-z0-9])((?:[A-Za-z0-9]+[_-])*(?:{_NAMES})\s*[=:]\s*|--(?:{_NAMES})[= ])"
    r"(['\"]?)(?!\*\*\*)[^\s'\",;&]+"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}")


def _is_secret_name(name: str) -> bool:
    n = name.lower()
    return n in SECRET_NAMES or n.endswith(("_key", "-key", "_token", "-token", "_secret"))


def redact_url(url: str) -> str:
    """`http://user:KEY@host/v1?api_key=K&x=1` -> `http://***@host/v1?api_key=***&x=1`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.scheme or not parts.netloc:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_is_secret_name(k) for k, _ in pairs):
            query = "&".join(
                f"{k}={MASK}" if _is_secret_name(k) else (f"{k}={v}" if v or "=" in query else k)
                for k, v in pairs
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """Every URL in `text` redacted, plus `Bearer TOKEN`, `api_key=...`, `--api-key X`."""
    if not text:
        return text
    out = _URL.sub(lambda m: redact_url(m.group()), text)
    out = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", out)
    return _ASSIGN.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", out)


def redact_obj(obj: Any) -> Any:
    """`redact_text` on every string of a JSON-like structure; values of secret-named keys are
    masked whole."""
    if isinstance(obj, str):
        return redact_text(obj)
    if isinstance(obj, dict):
        return {
            k: (MASK if isinstance(k, str) and _is_secret_name(k) and v else redact_obj(v))
            for k, v in obj.items()
        }
    if isinstance(obj, (list, tuple)):
        return [redact_obj(v) for v in obj]
    return obj
