"""``gencommons data compare A B``: the stats of two datasets side by side (e.g. before and after a
pipeline, or two candidate mixtures), as JSON and HTML, with the differences highlighted: a figure that
changed by more than ``highlight`` (10 % by default) relative to A is coloured (green up, red down);
categories (language, source, licence, domain) are listed by how much their share moved, largest first.
"""

from __future__ import annotations

from typing import Any

from gencommons.data.analysis.report import (
    LENGTH_LABELS,
    bar_plot,
    counts_of,
    esc,
    length_plot,
    overview_rows,
    page,
    table,
)


def _change(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    if a == 0:
        return None if b == 0 else float("inf")
    return (b - a) / abs(a)


def compare_stats(a: dict[str, Any], b: dict[str, Any], *, highlight: float = 0.1) -> dict[str, Any]:
    """The differences between two stats dicts (of ``compute_stats``), JSON-ready."""
    overview = {}
    for (label, va), (_, vb) in zip(overview_rows(a), overview_rows(b), strict=False):
        overview[label] = {"a": va, "b": vb, "change": _change(va, vb)}
    lengths = {}
    for k in sorted(set(a["lengths"]) & set(b["lengths"])):
        sa, sb = a["lengths"][k], b["lengths"][k]
        if sa.get("count") and sb.get("count"):
            lengths[k] = {
                q: {
                    "a": sa["quantiles"][q],
                    "b": sb["quantiles"][q],
                    "change": _change(sa["quantiles"][q], sb["quantiles"][q]),
                }
                for q in ("p5", "p50", "p95")
            } | {"mean": {"a": sa["mean"], "b": sb["mean"], "change": _change(sa["mean"], sb["mean"])}}
    cats: dict[str, list[dict[str, Any]]] = {}
    for k in sorted(set(a["categories"]) | set(b["categories"])):
        ca, cb = (counts_of(x["categories"].get(k, {})) for x in (a, b))
        ta, tb = max(1, sum(ca.values())), max(1, sum(cb.values()))
        rows: list[dict[str, Any]] = []
        for key in set(ca) | set(cb):
            sh_a, sh_b = ca.get(key, 0) / ta, cb.get(key, 0) / tb
            rows.append({"key": key, "a": ca.get(key, 0), "b": cb.get(key, 0), "share_a": sh_a, "share_b": sh_b,
                         "share_change": sh_b - sh_a})  # fmt: skip
        cats[k] = sorted(rows, key=lambda r: -abs(r["share_change"]))
    return {"a": a["dataset"], "b": b["dataset"], "highlight": highlight, "overview": overview,
            "lengths": lengths, "categories": cats, "dedup": {"a": a["dedup"], "b": b["dedup"]}}  # fmt: skip


def _cls(change: float | None, highlight: float) -> str:
    if change is None or abs(change) <= highlight:
        return ""
    return "up" if change > 0 else "down"


def _pct(change: float | None) -> str:
    if change is None:
        return "—"
    return "new" if change == float("inf") else f"{change:+.1%}"


def render_compare(a: dict[str, Any], b: dict[str, Any], diff: dict[str, Any]) -> str:
    """The comparison as a self-contained HTML page."""
    h = diff["highlight"]
    na, nb = a["name"], b["name"]
    if na == nb:
        na, nb = f"A: {na}", f"B: {nb}"
    body = [f"<h1>Compare: {esc(na)} vs {esc(nb)}</h1>",
            (f'<p class="note">A = {esc(a["dataset"])}, B = {esc(b["dataset"])}. Cells that changed by more than '
            f"{h:.0%} from A to B are highlighted (green: up, red: down).</p>"), "<h2>Overview</h2>"]  # fmt: skip
    rows, classes = [], []
    for label, d in diff["overview"].items():
        rows.append([label, d["a"], d["b"], _pct(d["change"])])
        classes.append(["", "", "", _cls(d["change"], h)])
    body.append(table(["", na, nb, "change"], rows, classes=classes))
    body.append("<h2>Document lengths</h2>")
    rows, classes, plots = [], [], []
    for k, qs in diff["lengths"].items():
        for q, d in qs.items():
            rows.append([f"{LENGTH_LABELS.get(k, k)} {q}", d["a"], d["b"], _pct(d["change"])])
            classes.append(["", "", "", _cls(d["change"], h)])
        plots.append(length_plot([(na, a["lengths"][k]), (nb, b["lengths"][k])], LENGTH_LABELS.get(k, k)))
    body.append(table(["per document", na, nb, "change"], rows, classes=classes))
    body.append('<div class="grid">' + "".join(plots) + "</div>")
    for k, crow in diff["categories"].items():
        body.append(f"<h2>{esc(k.capitalize())}</h2>")
        top = crow[:15]
        rows = [
            [r["key"], r["a"], r["b"], r["share_a"], r["share_b"], f"{r['share_change'] * 100:+.1f} pp"]
            for r in top
        ]
        classes = [["", "", "", "", "", _cls(r["share_change"] / max(r["share_a"], 1e-9), h)] for r in top]
        plot = bar_plot(
            [(na, counts_of(a["categories"].get(k, {}))), (nb, counts_of(b["categories"].get(k, {})))],
            "documents",
        )
        body.append(
            '<div class="grid"><div>'
            + table([k, na, nb, "share A", "share B", "share change"], rows, classes=classes)
            + "</div>"
            + plot
            + "</div>"
        )
    body.append("<h2>Duplicates</h2>")
    rows = [[step, (a["dedup"].get(step) or {}).get("rate"), (b["dedup"].get(step) or {}).get("rate")]
            for step in sorted(set(a["dedup"]) | set(b["dedup"]))]  # fmt: skip
    body.append(
        table(["dedup step", f"rate {na}", f"rate {nb}"], rows)
        if rows
        else '<p class="note">No dedup step in either.</p>'
    )
    return page(f"Compare {a['name']} and {b['name']}", body)
