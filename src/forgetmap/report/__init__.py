"""Layer 5 report: the study's appendix tables, publication figures and one self-contained HTML
page from a comparison dict (`forgetmap.analysis.compare.compare`).

Entry point: `forgetmap.report.build.build_report`. Modules: `model` (pairs, groups, labels),
`tables`, `figures`, `sizes`, `interactive` (plotly), `items` (flipped-item drill-down), `html`.
"""
