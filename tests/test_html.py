"""The HTML report: self-contained (no network), model output escaped, and it runs clean in a
real headless Chromium (Debian `chromium`; `.ci/run` installs it)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from test_report import GROUPS, XSS, built, study  # noqa: F401  (session fixtures)

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def test_html_is_self_contained(built):  # noqa: F811
    html = built.read_text(encoding="utf-8")
    # nothing fetched from anywhere: every src is a data URI, no external CSS/JS/fonts
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert not re.search(r"@import|url\(\s*['\"]?https?:", html, re.I)
    srcs = re.findall(r"""\ssrc\s*=\s*["']([^"']*)""", html)
    assert srcs and all(s.startswith("data:image/") for s in srcs)
    assert "<link" not in html
    # our two inline scripts and nothing else; neither has a src
    assert len(re.findall(r"<script\b", html, re.I)) == 2
    assert not re.search(r"<script[^>]*\ssrc=", html, re.I)
    # every figure is embedded; tables and drill-down present
    assert html.count("<img ") == 4
    for needle in (
        "Forgetting — Toy instruction tuning",
        "Backward transfer — Toy instruction",
        'id="items"',
        'data-filter="status"',
        '<li class="gold">',
    ):
        assert needle in html


def test_model_output_is_escaped(built, study):  # noqa: F811
    html = built.read_text(encoding="utf-8")
    assert XSS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "alert(1)" not in re.sub(r"&lt;script&gt;alert\(1\)&lt;/script&gt;", "", html)


def test_model_ids_and_numbers_in_the_page(study, tmp_path):  # noqa: F811
    """Model ids are text too (they reach titles, headers, alt texts); numbers are compare's."""
    import copy

    from forgetmap.report.build import build_report
    from forgetmap.report.html import format_p

    comparison = copy.deepcopy(study[2])
    evil = 'org/M"><img src=x onerror=alert(2)>'
    comparison["pairs"][1]["after"] = evil
    path = build_report(comparison, None, tmp_path, interactive=False, formats=())
    html = path.read_text()
    assert "<img src=x" not in html and "onerror=alert(2)>" not in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    for pair in comparison["pairs"]:
        tot = pair["total"]
        f = f"{tot['F_true']['mean'] * 100:.1f} ± {tot['F_true']['std'] * 100:.1f}"
        p = format_p(tot["pooled"]["p_mcnemar"])
        # († marks a total not distinguishable from sampling noise, docs/statistics.md)
        assert re.search(re.escape(f) + r"†?</td>.*?" + re.escape(p) + "</td>", html, re.S)


def test_report_without_store_has_no_drilldown(study, tmp_path):  # noqa: F811
    from forgetmap.report.build import build_report

    path = build_report(study[2], None, tmp_path, groups=GROUPS, interactive=False, formats=())
    html = path.read_text()
    assert 'id="items"' not in html and "drill-down is not included" in html
    assert not (tmp_path / "items").exists()


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "chromium is not installed (apt-get install -y chromium; .ci/run does it)"
    return exe


@pytest.mark.browser
def test_report_loads_in_headless_chromium_without_errors(built, tmp_path):  # noqa: F811
    """Load the page with the chromium CLI: DOM after scripts ran, console log, screenshot."""
    exe = _chromium()
    base = [
        exe,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1400,3400",  # the summary holds the per-category uncertainty table
    ]
    url = built.as_uri()
    env = {**os.environ, "LANG": "C.UTF-8"}
    dom = subprocess.run(
        [*base, "--dump-dom", url], capture_output=True, text=True, timeout=90, env=env
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    root = re.search(r"<html[^>]*>", dom.stdout).group(0)
    assert 'data-report-ready="1"' in root  # the page's own script ran to its end
    assert "data-js-errors" not in root, root  # the error sentinel saw nothing
    console = [ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    assert not console, console
    # the escaped script tag is text in the DOM, not an element
    assert dom.stdout.count("<script") == 2
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom.stdout
    # the filter script counted the rows
    assert re.search(r"\d+ of \d+ items shown", dom.stdout)

    shot = tmp_path / "shot.png"
    run = subprocess.run(
        [*base, f"--screenshot={shot}", url], capture_output=True, text=True, timeout=90, env=env
    )
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    import matplotlib.image as mpimg

    img = mpimg.imread(shot)[..., :3]
    assert img.shape[0] >= 3200 and img.shape[1] >= 1300
    non_white = (img < 0.9).any(axis=-1).mean()
    assert non_white > 0.03, non_white  # text, tables and figures rendered
    # the figures (image data URIs) rendered: the first pair's colour (radar and bars) and the
    # forgetting map's reds are on screen (in this toy study most map cells are hatched grey:
    # the simulated models' flips are not distinguishable from their sampling noise)
    blue = (np.abs(img - np.array([0.0, 0.447, 0.698])).sum(axis=-1) < 0.2).sum()
    reds = ((img[..., 0] > 0.6) & (img[..., 1] < 0.35) & (img[..., 2] < 0.35)).sum()
    assert blue > 2000 and reds > 100, (blue, reds)


@pytest.mark.browser
def test_report_filters_work_in_chromium(built):  # noqa: F811
    """Drive the page with playwright (system chromium): no console errors, filters filter."""
    from playwright.sync_api import sync_playwright

    exe = _chromium()
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS[1:])
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("dialog", lambda d: errors.append(f"dialog: {d.message}"))
            page.goto(built.as_uri())
            assert page.get_attribute("html", "data-report-ready") == "1"
            drill = page.locator(".drill").first
            rows = drill.locator("tr.item")
            total = rows.count()
            assert total > 10

            def visible() -> int:
                return len(shown("data-task"))

            def shown(attr: str) -> list[str]:
                """`attr` of the rows the filters left visible (one round trip)."""
                return drill.evaluate(
                    "(d, a) => [...d.querySelectorAll('tr.item')].filter(r => !r.hidden)"
                    ".map(r => r.getAttribute(a))",
                    attr,
                )

            drill.locator("select[data-filter=kind]").select_option("forgotten")
            n_forgotten = visible()
            assert all("forgotten" in k.split() for k in shown("data-kind"))
            drill.locator("select[data-filter=kind]").select_option("gained")
            n_gained = visible()
            assert 0 < n_forgotten < total and 0 < n_gained < total
            drill.locator("select[data-filter=kind]").select_option("")
            drill.locator("select[data-filter=status]").select_option("no_answer")
            n_na = visible()
            assert 0 < n_na < total
            assert all("no_answer" in st.split() for st in shown("data-status"))
            drill.locator("select[data-filter=status]").select_option("")
            task = drill.locator("select[data-filter=task] option").nth(1).inner_text()
            drill.locator("select[data-filter=task]").select_option(task)
            assert set(shown("data-task")) == {task}
            assert drill.locator(".count").inner_text().endswith(f"of {total} items shown")
            drill.locator("select[data-filter=task]").select_option("")
            drill.locator("input[data-filter=text]").fill("alert(1)")
            assert visible() == 1  # the item with the escaped script, found as text
        finally:
            browser.close()
    assert not errors, errors
