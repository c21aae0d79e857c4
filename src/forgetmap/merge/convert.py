"""GGUF -> Hugging Face checkpoint, so GGUF-only models can be merged (mergekit reads HF dirs).

transformers dequantizes the GGUF tensors (`from_pretrained(dir, gguf_file=...)`); the result is
saved as safetensors with its tokenizer. Used by the merge tests on the real SmolLM2 GGUF.
"""

from __future__ import annotations

import os
from pathlib import Path

from forgetmap.errors import ForgetmapError


def gguf_to_hf(
    gguf: str | os.PathLike[str], out_dir: str | os.PathLike[str], dtype: str = "float32"
) -> Path:
    """Write the GGUF model at `gguf` as an HF safetensors checkpoint (+ tokenizer) in `out_dir`."""
    src = Path(gguf)
    if not src.is_file():
        raise ForgetmapError(f"GGUF file {src} does not exist")
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError:
        raise ForgetmapError(
            "converting GGUF needs transformers: pip install 'forgetmap[hf]'"
        ) from None
    torch_dtype = getattr(torch, dtype, None)
    if not isinstance(torch_dtype, torch.dtype):
        raise ForgetmapError(f"unknown dtype {dtype!r} (float32, float16, bfloat16)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok = AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(src.parent), gguf_file=src.name, dtype=torch_dtype
    )
    # transformers marks GGUF-loaded models as "quantized (gguf)" and refuses to save them; the
    # weights are already dequantized, so drop that marker and save plain tensors.
    model.hf_quantizer = None
    model.is_quantized = False
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out
