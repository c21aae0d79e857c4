"""`forgetmap prompt`: print exactly what a model sees for one item."""

from __future__ import annotations

import click

from forgetmap.cli.options import data_dir_option, protocol_option
from forgetmap.errors import ForgetmapError
from forgetmap.records.schema import ELICITATIONS


@click.command("prompt")
@click.option("--task", "task_name", required=True, help="task, e.g. mmlu:anatomy or bbh:navigate")
@click.option("--item", "item_ref", required=True, help="item_id, or a 0-based index into the task")
@click.option(
    "--elicitation",
    type=click.Choice(ELICITATIONS),
    default="cot_chat",
    show_default=True,
)
@protocol_option()
@data_dir_option()
@click.option("--raw", is_flag=True, help="print only the prompt text/message, no header")
def prompt(
    task_name: str,
    item_ref: str,
    elicitation: str,
    protocol: str | None,
    data_dir: str | None,
    raw: bool,
) -> None:
    """Print the prompt of ITEM of TASK under ELICITATION and PROTOCOL (chat messages, completion
    text with stop sequences, or loglik context with its per-option continuations) and its
    prompt_hash. Items the protocol excludes (its exemplars, items the study drops) are not
    evaluated: asking for one is an error that says so."""
    from forgetmap.suite.loaders import load_items
    from forgetmap.suite.prompts import build_prompt, render
    from forgetmap.suite.protocol_loader import load_protocol

    proto = load_protocol(protocol)
    items = load_items(task_name, data_dir=data_dir)
    by_id = {it.item_id: it for it in items}
    item = by_id.get(item_ref)
    if item is None and item_ref.lstrip("-").isdigit():
        idx = int(item_ref)
        if not 0 <= idx < len(items):
            raise ForgetmapError(
                f"{task_name}: item index {idx} out of range (0..{len(items) - 1})"
            )
        item = items[idx]
    if item is None:
        raise ForgetmapError(
            f"{task_name}: no item with id {item_ref!r} (ids look like {items[0].item_id!r}; "
            "or pass a 0-based index)"
        )
    excluded = proto.excluded(task_name, data_dir)
    if item.item_id in excluded:
        raise ForgetmapError(
            f"{task_name}: item {item.item_id} is "
            f"{proto.excluded_item_reason(task_name, item.item_id, data_dir)} and is not evaluated "
            f"under it; {len(excluded)} item(s) of {task_name} are excluded so"
        )
    p = build_prompt(task_name, item, elicitation, data_dir=data_dir, protocol=proto)
    if raw:
        if p.messages is not None:
            click.echo("\n\n".join(m["content"] for m in p.messages))
        else:
            click.echo(p.text)
        return
    gold = proto.for_task(task_name).layout(item).gold  # the letter under this protocol
    click.echo(f"task: {task_name}\nitem_id: {item.item_id}\ngold: {gold}")
    click.echo(f"protocol: {proto.name} ({proto.source})")
    if excluded:
        click.echo(
            f"excluded: {len(excluded)} item(s) of {task_name}, not evaluated under this protocol "
            f"({proto.excluded_reason()}): {', '.join(sorted(excluded))}"
        )
    click.echo(render(p), nl=False)


commands: list[click.Command] = [prompt]
