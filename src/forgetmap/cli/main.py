"""`forgetmap` entry point: a click group; each subcommand lives in its own module (`*_cmd.py`,
exposing `commands`), registered below by name. The modules import only light dependencies at
the top (heavy ones load inside the command), so `forgetmap --help` is fast and needs no torch.
User errors print one red line, never a traceback."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.text import Text

from forgetmap.cli import (
    compare_cmd,
    data_cmd,
    demo_cmd,
    eval_cmd,
    export_cmd,
    import_cmd,
    merge_cmd,
    plan_cmd,
    prompt_cmd,
    protocol_cmd,
    report_cmd,
    runs_cmd,
    study_cmd,
    tasks_cmd,
    track_cmd,
)
from forgetmap.errors import ForgetmapError
from forgetmap.redact import redact_text
from forgetmap.version import __version__

err_console = Console(stderr=True, soft_wrap=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="forgetmap")
def cli() -> None:
    """Map what post-training forgets: item-level, chance-corrected flips between two models."""


COMMANDS: list[click.Command] = [
    *import_cmd.commands,
    *export_cmd.commands,
    *runs_cmd.commands,
    *compare_cmd.commands,
    *plan_cmd.commands,
    *tasks_cmd.commands,
    *data_cmd.commands,
    *prompt_cmd.commands,
    *protocol_cmd.commands,
    *eval_cmd.commands,
    *report_cmd.commands,
    *merge_cmd.commands,
    *study_cmd.commands,
    *demo_cmd.commands,
    *track_cmd.commands,
]
for _command in COMMANDS:
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (2 for user errors)."""
    try:
        cli.main(args=argv, prog_name="forgetmap", standalone_mode=False)
    except ForgetmapError as exc:
        # one line (the message's own newlines too), and never a credential from a URL or key
        message = " ".join(redact_text(str(exc)).split("\n"))
        err_console.print(Text("error: ", style="bold red") + Text(message))
        return 2
    except click.exceptions.Abort:
        err_console.print("aborted")
        return 130
    except click.UsageError as exc:  # a bad flag or value: one line too, with where to look
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
        message = " ".join(redact_text(exc.format_message()).split("\n"))
        err_console.print(Text("error: ", style="bold red") + Text(message + hint))
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
