"""Forgetting measured inside other tools' training loops (docs/tracking.md).

`ForgettingCallback` (transformers `Trainer` and so TRL's trainers) and the probe sets it
evaluates; names are imported on first use, so importing this package loads no torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ForgettingCallback": "forgetmap.integrations.callback",
    "ProbeSet": "forgetmap.integrations.probes",
    "probe_set": "forgetmap.integrations.probes",
    "DEFAULT_PROBE_SUITE": "forgetmap.integrations.probes",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'forgetmap.integrations' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
