"""The CLI is thin and explicit: every `*_cmd.py` module's commands are registered by name (a
module that fails to import is an error, not a silently missing command), shared options are
declared once, and backend flags are routed by one table."""

from __future__ import annotations

import importlib
from pathlib import Path

import click
import pytest

from forgetmap.cli import main
from forgetmap.engine.backends import BACKEND_OPTIONS, BACKENDS, backend_options
from forgetmap.errors import ForgetmapError

CLI = Path(main.__file__).parent


def test_every_command_module_is_registered():
    modules = sorted(p.stem for p in CLI.glob("*_cmd.py"))
    registered = {c.name for c in main.COMMANDS}
    for stem in modules:
        mod = importlib.import_module(f"forgetmap.cli.{stem}")
        for command in mod.commands:
            assert command.name in registered, f"{stem}: {command.name} not registered"
            assert main.cli.commands[command.name] is command
    assert len(main.COMMANDS) == len(registered) == len(main.cli.commands)


def _flag(command: click.Command, name: str) -> click.Option | None:
    return next((p for p in command.params if isinstance(p, click.Option) and name in p.opts), None)


@pytest.mark.parametrize("flag", ["--results", "--data-dir", "--protocol"])
def test_shared_options_have_one_definition(flag):
    """Every command taking the flag declares it through forgetmap.cli.options (same type)."""
    kinds = set()
    for command in main.COMMANDS:
        subs = command.commands.values() if isinstance(command, click.Group) else [command]
        for sub in subs:
            opt = _flag(sub, flag)
            if opt is not None:
                kinds.add((type(opt.type).__name__, getattr(opt.type, "file_okay", None)))
    assert len(kinds) == 1, kinds


def test_backend_options_route_and_reject():
    assert set(BACKEND_OPTIONS) >= {"base_url", "tensor_parallel_size", "dtype"}
    assert all(set(takers) <= set(BACKENDS) for takers, _ in BACKEND_OPTIONS.values())
    assert backend_options("vllm", tensor_parallel_size=4, max_model_len=None, dtype="auto") == {
        "tensor_parallel_size": 4
    }
    assert backend_options("hf", dtype="float32", deterministic=True) == {
        "dtype": "float32",
        "deterministic": True,
    }
    with pytest.raises(ForgetmapError, match=r"--base-url only applies to --backend openai"):
        backend_options("hf", base_url="http://x")
    with pytest.raises(
        ForgetmapError,
        match=r"--max-model-len only applies to --backend vllm or llamacpp \(not hf\)",
    ):
        backend_options("hf", max_model_len=4096)
