"""The report shows which categories' forgetting is distinguishable from sampling noise.

Records: real benchmark items (shared/data via the suite loaders) answered by two simulated
models with known behaviour (seeded draws; running real models until one forgets a category on
purpose is not possible here): the before-model knows 60% of the items and answers a known item
right on 93% of samples, guessing otherwise. The after-model forgets half the known *Math* items
(significant forgetting), and in *Culture* it is the before-model sampled again (forgetting
indistinguishable from noise, though the study's F_true there is clearly above 0); *Knowledge*
loses a quarter. Every number comes from the real `compare`; the page is rendered by headless
Chromium (playwright, the system chromium) and checked on screen: the uncertainty table's cells
(plain vs hatched), the forgetting map's cells (colour vs hatched grey), the radar markers
(filled vs hollow) and the appendix table's dagger with its legend.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from forgetmap.records import ResultsStore

TASKS = {  # task -> (category, share of known items the after-model forgets; None: re-sampled)
    "mmlu:high_school_mathematics": ("Math", 0.5),
    "mmlu:elementary_mathematics": ("Math", 0.5),
    "bbh:sports_understanding": ("Culture", None),
    "bbh:movie_recommendation": ("Culture", None),
    "mmlu:global_facts": ("Knowledge", 0.25),
    "mmlu:miscellaneous": ("Knowledge", 0.25),
}
BEFORE, AFTER = "toy/Base-7B", "toy/Base-7B-Tuned"
SEEDS = (0, 1, 2)


def _store(root: Path) -> ResultsStore:
    from forgetmap.suite.loaders import load_items

    rng = np.random.default_rng(11)
    store = ResultsStore(root)
    cols: dict[str, dict[str, list]] = {BEFORE: {}, AFTER: {}}
    for task, (_cat, forget) in TASKS.items():
        items = load_items(task, limit=250)
        k = np.array([len(it.choices) for it in items])
        known = rng.random(len(items)) < 0.6
        p = np.where(known, 0.93, 1.0 / k)
        lost = known & (rng.random(len(items)) < (forget or 0.0))
        q = np.where(lost, 1.0 / k, p)
        for model, prob in ((BEFORE, p), (AFTER, q)):
            for s in SEEDS:
                ok = rng.random(len(items)) < prob
                c = cols[model]
                for key, vals in (
                    ("task", [task] * len(items)),
                    ("item_id", [it.item_id for it in items]),
                    ("seed", [s] * len(items)),
                    ("n_choices", k.tolist()),
                    ("gold", [it.gold for it in items]),
                    ("pred", [it.gold if o else "?" for it, o in zip(items, ok, strict=True)]),
                    ("extract_status", ["ok"] * len(items)),
                    ("correct", ok.tolist()),
                ):
                    c.setdefault(key, []).extend(vals)
    for model, c in cols.items():
        n = len(c["task"])
        store.append(pa.table({"model": [model] * n, **c}), model, run_id="run-0")
    return store


@pytest.fixture(scope="module")
def report(tmp_path_factory, data_dir):
    from forgetmap.analysis import compare
    from forgetmap.report.build import build_report

    root = tmp_path_factory.mktemp("uncertainty")
    store = _store(root / "results")
    comparison = compare(store, [(BEFORE, AFTER)], bootstrap=1000)
    html = build_report(comparison, None, root / "report", title="Noise", interactive=False)
    return comparison, html


def _block(comparison, cat):
    pr = comparison.pairs[0].to_dict()
    return pr["total"] if cat == "Total" else pr["categories"][cat]


def test_the_constructed_case_is_what_it_should_be(report):
    comparison, _ = report
    math, culture = _block(comparison, "Math"), _block(comparison, "Culture")
    assert math["F_excess"]["ci95"][0] > 0  # significant
    assert culture["F_true"]["ci95"][0] > 0  # F_true alone looks like forgetting ...
    lo, hi = culture["F_excess"]["ci95"]
    assert lo <= 0 <= hi  # ... but it is sampling noise


def _as_svg(fig) -> None:
    """Lay the figure out as the report's SVG was (constrained layout runs per renderer)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    fig.savefig(io.BytesIO(), format="svg", facecolor="white")


def _radar_markers(svg: Path) -> dict[str, tuple[float, float, str]]:
    """The forgetting panel's markers in the report's radar SVG: category -> (x, y as fractions
    from the top-left, fill colour). Categories run clockwise from the top (Culture, Knowledge,
    Math here), so left to right they are Math, Culture, Knowledge."""
    import re

    text = svg.read_text()
    w, h = (float(v) for v in re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', text).groups())
    uses = re.findall(r'<use xlink:href="#\w+" x="([\d.]+)" y="([\d.]+)" style="fill: (#\w+)', text)
    # the left panel's markers; the legend's sample marker sits at the bottom
    left = sorted(
        (float(x), float(y), fill) for x, y, fill in uses if float(x) < w / 2 and float(y) < 0.9 * h
    )
    assert len(left) == 3, left
    return {
        c: (x / w, y / h, fill)
        for c, (x, y, fill) in zip(("Math", "Culture", "Knowledge"), left, strict=True)
    }


def _figure_cells(comparison):
    """Pixel fractions (x, y from top-left) of the F_true cells of Math and Culture in the
    forgetting map, from the same figure function (and style) the report used."""
    import matplotlib as mpl

    from forgetmap.report.figures import STYLE

    with mpl.rc_context(STYLE):
        return _cells_in_style(comparison)


def _cells_in_style(comparison):
    from forgetmap.report.figures import heatmap_figure
    from forgetmap.report.model import build_model

    model = build_model(comparison)
    pairs = model.pairs
    cats = model.categories
    out = {}
    fig = heatmap_figure(pairs, cats, "All pairs")
    _as_svg(fig)
    ax = fig.axes[0]  # F_true panel
    w, h = fig.canvas.get_width_height()
    for c in ("Math", "Culture"):
        x, y = ax.transData.transform((cats.index(c), 0))
        out[("map", c)] = (x / w, 1 - y / h)
    return out


def _png(data: bytes) -> np.ndarray:
    import matplotlib.image as mpimg

    return mpimg.imread(io.BytesIO(data), format="png")[..., :3]


def _hatched(img: np.ndarray) -> bool:
    """Grey (unsaturated) with two tones alternating: the hatch."""
    sat = img.max(axis=-1) - img.min(axis=-1)
    grey = img.mean(axis=-1)
    return bool(np.median(sat) < 0.06 and grey.std() > 0.02 and 0.55 < np.median(grey) < 0.97)


@pytest.mark.browser
def test_report_marks_noise_in_chromium(report, tmp_path):
    from playwright.sync_api import sync_playwright
    from test_html import CHROMIUM_FLAGS, _chromium

    comparison, html = report
    cells = _figure_cells(comparison)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS[1:])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(html.as_uri())
            assert page.get_attribute("html", "data-report-ready") == "1"
            # the uncertainty table: Math plain (tinted), Culture hatched with a dagger
            table = page.locator("table.uncertainty")
            math = table.locator('td[data-category="Math"]')
            culture = table.locator('td[data-category="Culture"]')
            assert math.get_attribute("data-distinguishable") == "yes"
            assert culture.get_attribute("data-distinguishable") == "no"
            assert "†" in culture.inner_text() and "†" not in math.inner_text()
            assert not _hatched(_png(math.screenshot()))
            assert _hatched(_png(culture.screenshot()))
            # the words under it
            words = page.locator("ul.verdicts").inner_text()
            assert "distinguishable in Knowledge, Math" in words
            assert "not distinguishable in Culture" in words
            # the appendix table: dagger on Culture, its legend in the caption
            appendix = page.locator("table.appendix").first
            row = appendix.locator("tr", has_text="Culture")
            assert "†" in row.inner_text()
            assert "†" not in appendix.locator("tr", has_text="Math").inner_text()
            assert "not distinguishable from sampling noise" in page.locator("#tables").inner_text()
            # figures, as rendered: map cells and radar markers
            # the forgetting map as rendered: Math's F_true cell coloured, Culture's hatched grey
            shot = _png(page.locator('figure img[alt*="forgetting map"]').first.screenshot())
            hh, ww = shot.shape[:2]
            for c in ("Math", "Culture"):
                fx, fy = cells[("map", c)]
                x, y = int(fx * ww), int(fy * hh)
                patch = shot[y - 6 : y + 7, x - 25 : x - 12]  # beside the number
                if c == "Math":
                    r, g, b = patch.reshape(-1, 3).mean(axis=0)
                    assert r > 0.6 and r - g > 0.25, (c, r, g, b)
                else:
                    assert _hatched(patch), c
            # the radar as rendered: Math's marker filled with the pair's colour, Culture's hollow
            markers = _radar_markers(next((html.parent / "figures").glob("radar_*.svg")))
            assert markers["Math"][2] != "#ffffff" and markers["Culture"][2] == "#ffffff"
            shot = _png(page.locator('figure img[alt*="forgetting (left)"]').first.screenshot())
            hh, ww = shot.shape[:2]
            for c, (fx, fy, _fill) in markers.items():
                centre = shot[
                    int(fy * hh) - 1 : int(fy * hh) + 2, int(fx * ww) - 1 : int(fx * ww) + 2
                ]
                centre = centre.reshape(-1, 3).mean(axis=0)
                if c == "Culture":
                    assert centre.min() > 0.85, (c, centre)  # hollow: white inside the ring
                else:
                    assert centre.min() < 0.75, (c, centre)  # filled with the pair's colour
            # the whole page for a person to look at (FORGETMAP_SCREENSHOT_DIR keeps it); from
            # the top, so the sticky nav is not captured where the element shots left it
            page.evaluate("window.scrollTo(0, 0)")
            shots = Path(os.environ.get("FORGETMAP_SCREENSHOT_DIR") or tmp_path)
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / "report_noise_marks.png"), full_page=True)
        finally:
            browser.close()
    assert not errors, errors
