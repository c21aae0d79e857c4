"""Optional interactive figures (plotly, the `interactive` extra): radar charts and the forgetting
map per group in one self-contained HTML file (plotly.js inlined, no network)."""

from __future__ import annotations

from pathlib import Path

from forgetmap.analysis.results import TOTAL
from forgetmap.atomic import atomic_write_text
from forgetmap.report.figures import color
from forgetmap.report.model import PairView, ReportModel


def plotly_available() -> bool:
    try:
        import plotly  # noqa: F401
    except ImportError:
        return False
    return True


def _note(pair: PairView, category: str, metric: str) -> str:
    """Hover text: the 95% CI and, where it applies, that the value is within noise."""
    ci = pair.ci(category, metric)
    text = "" if ci is None else f"<br>95% CI [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"
    if pair.distinguishable(category, metric) is False:
        text += "<br>not distinguishable from sampling noise"
    return text


def write_interactive(model: ReportModel, path: Path) -> Path | None:
    """Write the interactive page; None (nothing written) when plotly is not installed."""
    if not plotly_available():
        return None
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    figs = []
    for group, pairs in model.groups.items():
        cats = model.group_categories(group)
        if not cats:
            continue
        radar = make_subplots(
            rows=1,
            cols=2,
            specs=[[{"type": "polar"}, {"type": "polar"}]],
            subplot_titles=("Forgetting F_true (%)", "Backward transfer BT_true (%)"),
        )
        for i, p in enumerate(pairs):
            for col, metric in ((1, "F_true"), (2, "BT_true")):
                vals = [(s[0] * 100 if (s := p.stat(c, metric)) else None) for c in cats]
                notes = [_note(p, c, metric) for c in cats]
                # hollow markers: not distinguishable from sampling noise (docs/statistics.md)
                symbols = [
                    "circle-open" if p.distinguishable(c, metric) is False else "circle"
                    for c in cats
                ]
                radar.add_trace(
                    go.Scatterpolar(
                        r=[*vals, vals[0]],
                        theta=[*cats, cats[0]],
                        name=p.label,
                        legendgroup=p.label,
                        showlegend=col == 1,
                        mode="lines+markers",
                        line={"color": color(i)},
                        marker={"symbol": [*symbols, symbols[0]], "size": 8},
                        customdata=[*notes, notes[0]],
                        hovertemplate=f"{p.title}<br>%{{theta}}: %{{r:.1f}}%%{{customdata}}"
                        "<extra></extra>",
                    ),
                    row=1,
                    col=col,
                )
        radar.update_polars(angularaxis={"rotation": 90, "direction": "clockwise"})
        radar.update_annotations(yshift=28)  # subplot titles above the top category label
        radar.update_layout(
            title=f"{group}: forgetting and backward transfer", height=560, margin={"t": 110}
        )
        figs.append(radar)

        cols = [*cats, TOTAL]
        heat = make_subplots(rows=1, cols=2, subplot_titles=("F_true (%)", "BT_true (%)"))
        for col, metric, scale in ((1, "F_true", "Reds"), (2, "BT_true", "Blues")):
            z = [[(s[0] * 100 if (s := p.stat(c, metric)) else None) for c in cols] for p in pairs]
            text = [
                [
                    "–"
                    if v is None
                    else f"{v:.1f}" + ("†" if p.distinguishable(c, metric) is False else "")
                    for v, c in zip(row, cols, strict=True)
                ]
                for row, p in zip(z, pairs, strict=True)
            ]
            heat.add_trace(
                go.Heatmap(
                    z=z,
                    x=cols,
                    y=[p.label for p in pairs],
                    colorscale=scale,
                    text=text,
                    texttemplate="%{text}",
                    customdata=[[_note(p, c, metric) for c in cols] for p in pairs],
                    showscale=False,
                    hovertemplate="%{y}<br>%{x}: %{z:.2f}%%{customdata}<extra></extra>",
                ),
                row=1,
                col=col,
            )
        heat.update_yaxes(autorange="reversed")  # first pair on top, as in the PNG
        heat.update_layout(
            title=f"{group}: forgetting map († not distinguishable from sampling noise)",
            height=220 + 32 * len(pairs),
        )
        figs.append(heat)
    parts = [f.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, f in enumerate(figs)]
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>forgetmap interactive figures"
        "</title></head><body>" + "\n".join(parts) + "</body></html>"
    )
    return atomic_write_text(path, page)
