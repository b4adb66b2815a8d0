"""The stats of a dataset as one self-contained HTML page (matplotlib PNGs embedded as base64, no
script, no network) and as JSON. ``compare.py`` reuses the page frame and the plot helpers.

Every string from the data (ids, n-grams, domains, sources) is HTML-escaped: a corpus is untrusted text.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Sequence
from typing import Any

from gencommons.lineage.atomic import write_bytes_atomic, write_json_atomic

CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;
text-align:left;font-size:.92em}td.n{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%}.grid{display:flex;flex-wrap:wrap;gap:1em}.note{color:#666;font-size:.88em}
.up{background:#e3f5e1}.down{background:#fbe3e1}.warn{color:#a40}
"""
LENGTH_LABELS = {"characters": "characters", "words": "words (\\w+ runs)", "tokens": "tokens"}


def esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def fmt(x: Any) -> str:
    """A number for a table: thousands separators, 3 significant decimals for fractions."""
    if isinstance(x, bool) or x is None:
        return esc("—" if x is None else x)
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"
    return esc(x)


def table(
    header: Sequence[str], rows: Sequence[Sequence[Any]], *, classes: Sequence[Sequence[str]] = ()
) -> str:
    """An HTML table; numbers right-aligned; ``classes[r][c]`` adds a CSS class to a cell."""
    out = ["<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>"]
    for r, row in enumerate(rows):
        cells = []
        for c, v in enumerate(row):
            cls = ["n"] if isinstance(v, int | float) and not isinstance(v, bool) else []
            if r < len(classes) and c < len(classes[r]) and classes[r][c]:
                cls.append(classes[r][c])
            attr = f' class="{" ".join(cls)}"' if cls else ""
            cells.append(f"<td{attr}>{fmt(v)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "\n".join(out) + "</table>"


def png(fig: Any) -> str:
    """A matplotlib figure as an <img> with its PNG inline (the figure is closed)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def _figure(w: float = 5.2, h: float = 3.0) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")  # no display; must precede pyplot's first import
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(w, h))


def length_plot(summaries: Sequence[tuple[str, dict[str, Any]]], title: str) -> str:
    """Histogram(s) of one length (log x axis) from the sketches' coarse bins, one step line per dataset."""
    fig, ax = _figure()
    for label, s in summaries:
        h = s.get("histogram") or {}
        if h.get("counts"):
            ax.stairs(h["counts"], h["edges"], label=label, fill=len(summaries) == 1, alpha=0.8)
    ax.set_xscale("log")
    ax.set_xlabel(title + " per document")
    ax.set_ylabel("documents")
    if len(summaries) > 1:
        ax.legend()
    return png(fig)


def bar_plot(series: Sequence[tuple[str, dict[str, int]]], title: str, *, top: int = 15) -> str:
    """Horizontal bars of the top categories; several datasets share the categories of the first."""
    import numpy as np

    keys: list[str] = []
    for _, counts in series:
        keys += [k for k in sorted(counts, key=lambda k: -counts[k]) if k not in keys]
    keys = keys[:top][::-1]
    fig, ax = _figure(5.2, 0.25 * len(keys) + 1)
    y = np.arange(len(keys))
    hgt = 0.8 / len(series)
    for i, (label, counts) in enumerate(series):
        total = sum(counts.values()) or 1
        ax.barh(y + i * hgt, [counts.get(k, 0) / total for k in keys], height=hgt, label=label)
    ax.set_yticks(y + hgt * (len(series) - 1) / 2, [k[:40] for k in keys], fontsize=8)
    ax.set_xlabel(f"share of {title}")
    if len(series) > 1:
        ax.legend()
    return png(fig)


def page(title: str, body: list[str]) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def counts_of(hh: dict[str, Any]) -> dict[str, int]:
    return {k: c for k, c in hh.get("top", [])}


def _hh_note(hh: dict[str, Any]) -> str:
    if hh.get("exact", True):
        return '<p class="note">Exact counts.</p>'
    return (
        f'<p class="note">Approximate (Misra–Gries, {hh["k"]:,} counters): each count may be low by at '
        f"most {hh['max_error']:,.1f} of {hh['total']:,} items.</p>"
    )


def overview_rows(s: dict[str, Any]) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = [
        ("documents", s["documents"]),
        ("empty documents", s["empty_documents"]),
        ("characters", s["characters"]),
        ("UTF-8 bytes", s["bytes"]),
        ("words (\\w+ runs)", s["words"]),
    ]
    if s.get("tokens") is not None:
        rows.append((f"tokens ({os.path.basename(str(s['tokenizer']['path']).rstrip('/'))})", s["tokens"]))
    exact = (s.get("duplicates") or {}).get("exact")
    if exact is not None:
        rows.append(("exact-duplicate documents", exact["duplicate_documents"]))
    rows.append(("documents with a URL", s["documents_with_url"]))
    rows.append(("files", s["files"]))
    return rows


def render_report(s: dict[str, Any]) -> str:
    """The stats dict of ``compute_stats`` as a self-contained HTML page."""
    body = [f"<h1>Dataset report: {esc(s['name'])}</h1>"]
    body.append(
        f'<p class="note">{esc(s["dataset"])} · content id {esc(s.get("content_id") or "unknown")}</p>'
    )
    if not s["has_manifest"]:
        body.append(
            '<p class="warn">No manifest.json: the pipeline steps, licences of the inputs and '
            "duplicate rates are unknown.</p>"
        )
    body += ["<h2>Overview</h2>", table(["", "count"], overview_rows(s))]
    body.append("<h2>Document lengths</h2>")
    q = f"quantiles within {s['sketches']['quantile_relative_error']:.0%} relative error (DDSketch)"
    rows = []
    plots = []
    for name, summ in s["lengths"].items():
        if summ.get("count"):
            qs = summ["quantiles"]
            rows.append(
                [
                    LENGTH_LABELS.get(name, name),
                    summ["mean"],
                    summ["min"],
                    qs["p5"],
                    qs["p50"],
                    qs["p95"],
                    summ["max"],
                ]
            )
            plots.append(length_plot([(name, summ)], LENGTH_LABELS.get(name, name)))
    body += [
        table(["per document", "mean", "min", "p5", "median", "p95", "max"], rows),
        f'<p class="note">{q}</p>',
    ]
    body.append('<div class="grid">' + "".join(plots) + "</div>")
    for name, hh in s["categories"].items():
        body.append(f"<h2>{esc(name.capitalize() if name != 'domain' else 'Top domains')}</h2>")
        top = hh["top"][:20]
        body.append(
            '<div class="grid"><div>'
            + table([name, "documents", "share"], [[k, c, c / max(1, hh["total"])] for k, c in top])
            + _hh_note(hh)
            + "</div>"
            + bar_plot([(s["name"], counts_of(hh))], "documents")
            + "</div>"
        )
    if s["scores"]:
        body.append("<h2>Quality scores and other numeric columns</h2>")
        rows = [
            [
                k,
                v.get("count", 0),
                v.get("nulls", 0),
                v.get("mean"),
                v.get("min"),
                (v.get("quantiles") or {}).get("p50"),
                v.get("max"),
            ]
            for k, v in s["scores"].items()
        ]
        body.append(table(["column", "values", "nulls", "mean", "min", "median", "max"], rows))
    if s["annotations"]:
        body.append("<h2>Annotated drop reasons</h2>")
        for col, hh in s["annotations"].items():
            body.append(f"<h3>{esc(col)}</h3>" + table(["reason", "documents"], hh["top"][:20]))
    body.append("<h2>Duplicates and pipeline steps</h2>")
    exact = (s.get("duplicates") or {}).get("exact")
    if exact is not None:
        how = (
            "counted exactly"
            if exact["exact"]
            else f"estimated, ±{exact['relative_standard_error']:.2%} of the distinct count (1 σ)"
        )
        body.append(
            f"<p>Exact duplicates (same text after lowercasing and collapsing whitespace): "
            f"{exact['duplicate_documents']:,} documents ({exact['rate']:.2%}) repeat an earlier one; "
            f"{exact['distinct']:,} distinct texts ({how}).</p>"
        )
    if s["dedup"]:
        body.append(
            table(
                ["dedup step", "documents in", "dropped", "rate"],
                [[k, v["docs_in"], v["dropped"], v["rate"]] for k, v in s["dedup"].items()],
            )
        )
    else:
        body.append('<p class="note">No deduplication step ran (or there is no manifest).</p>')
    if s["pipeline"]:
        rows = [
            [p["name"], p["mode"], p["docs_in"], p["docs_out"], p["docs_in"] - p["docs_out"]]
            for p in s["pipeline"]
        ]
        body.append(table(["step", "mode", "in", "out", "dropped"], rows))
    body.append("<h2>Top n-grams</h2>")
    if s.get("ngram_sample", 1) > 1:
        body.append(f'<p class="note">Counted in every {s["ngram_sample"]}th batch only.</p>')
    grid = []
    for n, hh in s["ngrams"].items():
        grid.append(
            f"<div><h3>{n}-grams</h3>"
            + table([f"{n}-gram", "count"], hh["top"][:25])
            + _hh_note(hh)
            + "</div>"
        )
    body.append('<div class="grid">' + "".join(grid) + "</div>")
    body.append(f'<p class="note">Computed in {s["seconds"]:.1f} s by gencommons data stats.</p>')
    return page(f"Dataset report: {s['name']}", body)


def write_report(stats: dict[str, Any], out: str) -> tuple[str, str]:
    """Write ``<out>/stats.json`` and ``<out>/report.html`` (each atomically); returns their paths."""
    os.makedirs(out, exist_ok=True)
    j, h = os.path.join(out, "stats.json"), os.path.join(out, "report.html")
    write_json_atomic(j, stats)
    write_bytes_atomic(h, render_report(stats).encode("utf-8"))
    return j, h
