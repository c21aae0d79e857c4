"""`forgetmap protocols [NAME|FILE] [--task T] [--json]`: list, check and explain protocols."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table


def _plain(value: Any) -> Any:
    """JSON-ready form of a setting (exemplars by their key fields)."""
    if isinstance(value, tuple) and value and hasattr(value[0], "reasoning"):
        return [{"task": e.task, "split": e.split, "id": e.id, "answer": e.answer} for e in value]
    return list(value) if isinstance(value, tuple) else value


def _short(value: Any, width: int = 70) -> str:
    text = json.dumps(_plain(value), ensure_ascii=False)
    if isinstance(value, tuple) and value and hasattr(value[0], "reasoning"):
        text = f"{len(value)} exemplars: " + ", ".join(f"{e.split}/{e.id}" for e in value)
    return text if len(text) <= width else text[: width - 1] + "…"


@click.command("protocols")
@click.argument("protocol", required=False)
@click.option("--task", "task_name", default=None, help="Show every setting of this task.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
def protocols(protocol: str | None, task_name: str | None, as_json: bool) -> None:
    """Without PROTOCOL: the built-in protocols. With PROTOCOL (a name or a YAML file): check it
    (errors name the file and key) and show, per benchmark, what it changes against the
    `forgetmap` protocol and which items it keeps out of evaluation; with --task, every setting
    of that task and the file and key it comes from. Format: docs/protocols.md."""
    from forgetmap.suite.protocol import builtin_protocols
    from forgetmap.suite.protocol_loader import load_protocol
    from forgetmap.suite.registry import all_tasks, get_task

    out = Console() if sys.stdout.isatty() else Console(width=160)
    if protocol is None:
        rows = [load_protocol(n) for n in builtin_protocols()]
        if as_json:
            click.echo(json.dumps([{"name": p.name, "source": p.source,
                                    "description": p.description} for p in rows], indent=1))  # fmt: skip
            return
        table = Table(title="built-in protocols (--protocol NAME; or a YAML file)")
        table.add_column("name")
        table.add_column("description")
        for p in rows:
            table.add_row(p.name, p.description)
        out.print(table)
        return
    proto = load_protocol(protocol)
    if task_name is not None:
        tp = proto.for_task(get_task(task_name))
        settings = [
            {"setting": k, "value": _plain(v), "from": tp.where(k)} for k, v in tp.settings.items()
        ]
        if as_json:
            click.echo(json.dumps(settings, indent=1, ensure_ascii=False))
            return
        table = Table(title=f"{proto.name}: {tp.spec.name}")
        for col in ("setting", "value", "from"):
            table.add_column(col, overflow="fold")
        for k, v in tp.settings.items():
            table.add_row(k, _short(v), tp.where(k))
        out.print(table)
        return
    base = load_protocol("forgetmap")
    changes: dict[str, dict[str, Any]] = {}
    for spec in all_tasks():
        mine, ref = proto.for_task(spec), base.for_task(spec)
        diff = {k: _plain(v) for k, v in mine.settings.items() if v != ref.settings[k]}
        excluded = sorted(proto.excluded(spec))
        if diff or excluded:
            changes[spec.name] = {"changed": diff, "excluded": excluded}
    if as_json:
        click.echo(json.dumps({"name": proto.name, "source": proto.source, "sha256": proto.sha256,
                               "tasks": changes}, indent=1, ensure_ascii=False))  # fmt: skip
        return
    out.print(f"[bold]{proto.name}[/]  {proto.source}  sha256 {proto.sha256[:12]}")
    if proto.description:
        out.print(proto.description)
    table = Table(title=f"what {proto.name} changes against forgetmap ({len(changes)} tasks)")
    for col in ("task", "settings changed", "excluded items"):
        table.add_column(col, overflow="fold")
    for name, c in changes.items():
        table.add_row(
            name, ", ".join(c["changed"]) or "–", str(len(c["excluded"])) if c["excluded"] else "–"
        )
    out.print(table)


commands: list[click.Command] = [protocols]
