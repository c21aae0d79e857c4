"""track's index.html escapes what models wrote (the questions and responses it shows).

Records come from test_report.make_store: real benchmark items, simulated answers; the first
item flips 1->0 at every step and its response there carries a script tag, which index.html
must show as text.
"""

from __future__ import annotations

import html
from pathlib import Path

from test_report import XSS, make_store

from forgetmap.analysis.compare import compare
from forgetmap.track.naming import checkpoint_model_name
from forgetmap.track.outputs import write_outputs

BASE, RUN, STEPS = "toy-org/Toy-1B", "toy-run", (10, 20)


def test_index_html_escapes_model_text(tmp_path: Path) -> None:
    steps = [checkpoint_model_name(RUN, s) for s in STEPS]
    # make_store writes each pair's two models: base and step 10 (the flip with the script
    # tag), then step 20 beside an unused model (each model is written once)
    store, _ = make_store(
        tmp_path / "res",
        pairs=((BASE, steps[0], 0.6, 0.5), ("toy-org/unused", steps[1], 0.6, 0.5)),
        tasks=("mmlu:anatomy", "commonsense_qa:validation"),
    )
    cmp = compare(store, [(BASE, m) for m in steps], bootstrap=50)
    out = tmp_path / "out"
    written = write_outputs(store, cmp, BASE, RUN, STEPS, steps, out, report=False)
    page = (out / "index.html").read_text(encoding="utf-8")
    assert written.files["index.html"] == out / "index.html"
    assert XSS not in page and "<script" not in page
    # shown, as text, among the responses of step 10's flipped items
    step10 = page[page.index("step 10 —") : page.index("step 20 —")]
    assert f'<pre class="resp">I will answer now {html.escape(XSS)} Answer: ' in step10
