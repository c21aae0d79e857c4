"""Post-training quantization of a GGUF model with llama.cpp (llama-cpp-python's quantize API).

A real post-training stage that runs in seconds on a CPU, so `forgetmap demo` (and a CPU study)
can make its after-model itself. K-quants need rows divisible by 256; small models (SmolLM2:
width 576) only take the block-32 types listed in TYPES. llama.cpp's own log is captured into
`<out>.log` instead of flooding the terminal.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from forgetmap.atomic import atomic_write
from forgetmap.errors import ForgetmapError

TYPES = ("Q8_0", "Q5_1", "Q5_0", "Q4_1", "Q4_0", "IQ4_NL")


def quantize_gguf(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    qtype: str = "Q4_0",
    threads: int | None = None,
) -> Path:
    """Requantize the GGUF `src` to `qtype` into `out` (atomic: temp file, then rename)."""
    if qtype not in TYPES:
        raise ForgetmapError(
            f"quantization type {qtype!r} not supported; choose one of {', '.join(TYPES)}"
        )
    src_p, out_p = Path(src), Path(out)
    if not src_p.is_file():
        raise ForgetmapError(f"GGUF file {src_p} does not exist")
    try:
        import llama_cpp
    except ImportError:
        raise ForgetmapError(
            "quantizing needs llama-cpp-python: pip install 'forgetmap[llamacpp]'"
        ) from None
    out_p.parent.mkdir(parents=True, exist_ok=True)
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{qtype}")
    params.allow_requantize = True
    params.nthread = threads or max(1, os.cpu_count() or 1)
    log = out_p.with_suffix(out_p.suffix + ".log")
    t0 = time.time()

    def quantize(tmp: Path) -> None:
        sys.stderr.flush()
        saved = os.dup(2)
        with open(log, "w") as fh:
            os.dup2(fh.fileno(), 2)
            try:
                rc = llama_cpp.llama_model_quantize(str(src_p).encode(), str(tmp).encode(), params)
            finally:
                os.dup2(saved, 2)
                os.close(saved)
        if rc != 0 or not tmp.is_file():
            raise ForgetmapError(
                f"llama.cpp could not quantize {src_p} to {qtype} (code {rc}); see {log}"
            )

    atomic_write(out_p, quantize)
    with open(log, "a") as fh:
        fh.write(f"\nforgetmap: {src_p} -> {out_p} ({qtype}) in {time.time() - t0:.1f}s\n")
    return out_p
