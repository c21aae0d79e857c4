"""`forgetmap` entry point: a click group whose subcommands live one module each.

Each module in COMMAND_MODULES exposes `commands: list[click.Command]`; a module that is missing
(an optional part not installed) is skipped. User errors print one red line, never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import click
from rich.console import Console
from rich.text import Text

from forgetmap.errors import ForgetmapError
from forgetmap.version import __version__

COMMAND_MODULES = (
    "forgetmap.cli.import_cmd",
    "forgetmap.cli.export_cmd",
    "forgetmap.cli.compare_cmd",
    "forgetmap.cli.plan_cmd",
    "forgetmap.cli.tasks_cmd",
    "forgetmap.cli.data_cmd",
    "forgetmap.cli.prompt_cmd",
    "forgetmap.cli.eval_cmd",
    "forgetmap.cli.report_cmd",
    "forgetmap.cli.merge_cmd",
    "forgetmap.cli.study_cmd",
    "forgetmap.cli.demo_cmd",
)

err_console = Console(stderr=True, soft_wrap=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="forgetmap")
def cli() -> None:
    """Map what post-training forgets: item-level, chance-corrected flips between two models."""


def _register() -> None:
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        for command in mod.commands:
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (2 for user errors)."""
    try:
        cli.main(args=argv, prog_name="forgetmap", standalone_mode=False)
    except ForgetmapError as exc:
        err_console.print(Text("error: ", style="bold red") + Text(str(exc)))
        return 2
    except click.exceptions.Abort:
        err_console.print("aborted")
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
