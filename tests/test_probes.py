"""Probe sets: fixed, stratified, hash-chosen items with a stated MDE (real benchmark files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from forgetmap.errors import ForgetmapError
from forgetmap.integrations.probes import probe_rank, probe_set
from forgetmap.metrics.power import PlanTask, plan_mde
from forgetmap.suite.protocol_loader import load_protocol


def test_default_probe_set_is_stratified_deterministic_and_nested(data_dir: Path) -> None:
    small = probe_set(items_per_task=20, data_dir=data_dir)
    again = probe_set(items_per_task=20, data_dir=data_dir)
    large = probe_set(items_per_task=50, data_dir=data_dir)
    assert small.items == again.items
    assert small.tasks == ["arc:easy", "piqa:validation", "hellaswag:validation"]  # suite `probe`
    assert {len(v) for v in small.items.values()} == {20}
    assert len(set(small.categories.values())) >= 2  # spread over categories
    for task, ids in small.items.items():
        assert set(ids) <= set(large.items[task])  # a larger set contains the smaller one
        assert list(ids) == sorted(ids, key=lambda i, t=task: probe_rank(t, i, 0))
    other = probe_set(items_per_task=20, seed=1, data_dir=data_dir)
    assert other.items != small.items


def test_stated_mde_is_the_power_modules_and_shrinks_with_items(data_dir: Path) -> None:
    small = probe_set(items_per_task=20, data_dir=data_dir)
    large = probe_set(items_per_task=200, data_dir=data_dir)
    assert set(small.mde) == {*small.categories.values(), "Total"}
    assert large.mde["Total"] < small.mde["Total"]
    loaded = {t: load_protocol(None).load(t, data_dir=data_dir) for t in small.tasks}
    plan = [
        PlanTask(
            t,
            small.categories[t],
            20,
            max({it.k for it in loaded[t].items}, key=[it.k for it in loaded[t].items].count),
        )
        for t in small.tasks
    ]
    want = plan_mde(plan, 1, 0.5).mde[-1]
    assert small.mde["Total"] == pytest.approx(float(want))
    assert "MDE of Total F_true" in small.describe()


def test_probe_protocol_loads_only_the_probe_items_with_unchanged_prompts(data_dir: Path) -> None:
    from forgetmap.suite.prompts import build_prompt
    from forgetmap.suite.registry import get_task

    probes = probe_set(items_per_task=5, data_dir=data_dir)
    base = load_protocol(None)
    proto = probes.protocol(base)
    for task in probes.tasks:
        got = proto.load(task, data_dir=data_dir)
        assert {it.item_id for it in got.items} == set(probes.items[task])
        full = {it.item_id: it for it in base.load(task, data_dir=data_dir).items}
        spec = get_task(task)
        for it in got.items:
            a = build_prompt(spec, it, "loglik", data_dir=data_dir, protocol=proto)
            b = build_prompt(spec, full[it.item_id], "loglik", data_dir=data_dir, protocol=base)
            assert a.prompt_hash == b.prompt_hash
    with pytest.raises(ForgetmapError, match="not a task of the probe set"):
        proto.load("social_iqa:validation", data_dir=data_dir)


def test_bad_probe_requests_fail_clearly(data_dir: Path) -> None:
    with pytest.raises(ForgetmapError, match="items_per_task"):
        probe_set(items_per_task=0, data_dir=data_dir)
    with pytest.raises(ForgetmapError, match="free-form"):
        probe_set(tasks="bbh:word_sorting", data_dir=data_dir)
