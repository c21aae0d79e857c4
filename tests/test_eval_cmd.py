"""`forgetmap eval` command line: the documented flags, and one-line user errors (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from forgetmap.cli.main import cli, main


def test_help_lists_the_design_flags() -> None:
    out = CliRunner().invoke(cli, ["eval", "--help"]).output
    for flag in (
        "--model", "--backend", "--suite", "--tasks", "--seeds", "--limit", "--elicitation",
        "--max-new-tokens", "--temperature", "--top-p", "--results", "--data-dir",
        "--batch-size", "--base-url", "--tensor-parallel-size", "--data-parallel", "--model-name",
        "--trust-remote-code",
    ):  # fmt: skip
        assert flag in out, flag
    for backend in ("hf", "llamacpp", "openai", "vllm"):
        assert backend in out


def _err(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return " ".join(err.split())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tasks", "bbh:navigate", "--seeds", "0,x"], "--seeds must be comma-separated integers"),
        ([], "give --suite NAME or --tasks"),
        (["--tasks", "bbh:nope"], "bbh:nope"),
        (["--tasks", "bbh:navigate", "--backend", "hf", "--base-url", "http://x"], "--base-url only"),
        (["--tasks", "bbh:navigate", "--model", "/nonexistent/m.gguf", "--backend", "llamacpp"],
         "model file /nonexistent/m.gguf does not exist"),
        (["--tasks", "bbh:navigate", "--model", "/nonexistent/m.gguf", "--backend", "hf"],
         "model file /nonexistent/m.gguf does not exist"),
        (["--tasks", "bbh:navigate", "--deterministic"],
         "--deterministic only applies to --backend hf (not llamacpp)"),
    ],
)  # fmt: skip
def test_user_errors_are_one_line(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    data_dir: Path,
    tmp_path: Path,
) -> None:
    base = ["eval", "--results", str(tmp_path), "--limit", "1"]
    if "--model" not in argv:
        base += ["--model", "smollm2-135m-instruct", "--backend", "llamacpp"]
    assert message in _err(capsys, base + argv)


def test_vllm_on_cpu_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path
) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    argv = ["eval", "--model", "Qwen/Qwen2.5-0.5B", "--backend", "vllm", "--tasks", "bbh:navigate",
            "--limit", "1", "--results", str(tmp_path)]  # fmt: skip
    assert "--backend vllm needs a CUDA GPU" in _err(capsys, argv)
