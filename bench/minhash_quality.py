"""Near-duplicate quality of ``minhash_dedup``: recall and precision per true Jaccard, and the S-curve.

    .venv/bin/python bench/minhash_quality.py                    # ~1 minute on 2 cores
    .venv/bin/python bench/minhash_quality.py --originals 500    # smoke test

1. **The corpus** (``_minhash_corpus.py``): ``--originals`` (4,000) real documents of at least 100 words
   from ``shared/data/text`` with pairwise true Jaccard < 0.2, each with 1–3 injected near-duplicates
   (word insertions, deletions, substitutions, local reorderings at 2–20 %, an added header or footer
   paragraph, exact copies): 10,960 documents, 10,894 true pairs, their true Jaccard computed exactly.
2. **The runs**, each a fresh subprocess measured by ``_measure.py``, the local executor at 2 workers,
   one task per input file: gencommons ``minhash_dedup`` with ``hashing: minhash`` (independent
   permutations, for which the S-curve is exact) and word 5-grams at 14 bands × 8 rows (112
   permutations, the default), 9 × 13 (117) and 20 × 5 (100), and at 14 × 8 once with ``verify: true``;
   then once with the default ``hashing: superminhash`` (its curve is steeper than the S-curve: tabled,
   not drawn or checked);
   and datasketch (``_minhash_peer_driver.py``) at 14 × 8 as a textbook reference MinHash.
3. **The scores** (``_minhash_scoring.py``): found pairs = pairs of documents in the same output cluster;
   recall and precision per true-Jaccard bucket; the recall of single-variant (original, variant) pairs
   per 0.05 of Jaccard (which only their own LSH collision can find) against the theoretical candidate
   probability ``1 − (1 − s^r)^b``, drawn in ``bench/results/minhash_scurve.png``; and the recall per
   edit kind and rate.

Writes ``bench/results/minhash_quality.md`` (printed too), ``.json`` and ``minhash_scurve.png``.
Exits 1 if a run's precision is below 0.99, or if the pairs it finds differ from the number the S-curve
predicts by more than 4 standard deviations (a sign that its hashing does not behave like random
permutations).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from _minhash_corpus import ORIGINALS, build_corpus
from _minhash_corpus import WORK as MINHASH_WORK
from _minhash_runs import gencommons_minhash_run, minhash_params, peer_run, warm_up
from _minhash_scoring import (
    Truth,
    clusters_from_parquet,
    clusters_gencommons,
    curve_fit,
    direct_curve,
    edit_recall,
    pairs_row,
    recall_table,
    s_curve,
    s_curve_threshold,
    score,
    wilson,
)
from _results import write_results
from filters_vs_datatrove import ROOT, Run, git_state, run_all, run_row, snapshot_source

BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
WORK = MINHASH_WORK / "quality"
CONFIGS = ((14, 8), (9, 13), (20, 5))  # (bands, rows); the first is the default and FineWeb's
MAX_Z = 4.0  # |found − predicted| / sd over all single-variant pairs; above this the hashing is suspect
COLORS = {(14, 8): "tab:blue", (9, 13): "tab:orange", (20, 5): "tab:green"}


def plot(curves: dict[str, dict[str, Any]], path: Path, n_pairs: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(8.5, 5.5), dpi=120)
    s = np.linspace(0, 1, 401)
    for (b, r), color in COLORS.items():
        label = (
            rf"$1-(1-s^{{{r}}})^{{{b}}}$: {b} bands × {r} rows; "
            rf"$(1/b)^{{1/r}}$ = {s_curve_threshold(b, r):.2f} (dotted)"
        )
        ax.plot(s, s_curve(s, b, r), color=color, lw=1.6, label=label)
        ax.axvline(s_curve_threshold(b, r), color=color, lw=0.8, ls=":")
    for name, c in curves.items():
        if not c["s_curve"]:
            continue
        pts = [p for p in c["curve"] if p["pairs"] >= 5]
        x = np.array([p["mean_j"] for p in pts])
        y = np.array([p["found"] / p["pairs"] for p in pts])
        ci = np.array([wilson(p["found"], p["pairs"]) for p in pts])
        err = np.abs(ci.T - y)
        ref = c["tool"] != "gencommons"
        ax.errorbar(
            x,
            y,
            yerr=err,
            fmt="s" if ref else "o",
            ms=5 if ref else 5.5,
            mfc="none" if ref else c["color"],
            mec="black" if ref else c["color"],
            ecolor="black" if ref else c["color"],
            elinewidth=0.8,
            capsize=2,
            label=name,
            zorder=3,
        )
    ax.set_xlim(0.15, 1.0)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("true Jaccard similarity of word 5-gram sets (s)")
    ax.set_ylabel("probability of being found (recall)")
    ax.set_title(
        f"MinHash LSH: empirical recall vs the S-curve ({n_pairs:,} single-variant pairs, 0.05 bins, 95% CI)",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def markdown(
    meta: dict[str, Any],
    rows: list[dict[str, Any]],
    scores: dict[str, Any],
    curves: dict[str, Any],
    edits: dict[str, Any],
) -> str:
    lines = [
        "# MinHash near-dedup quality: recall and precision by true Jaccard",
        "",
        (
            f"{meta['date']} · {meta['docs']:,} documents ({meta['clusters']:,} ground-truth clusters: an original and "
            f"1–3 near-duplicates) from `shared/data/text`, {meta['true_pairs']:,} true pairs · word 5-grams, "
            f"lowercased `\\w+` words · gencommons {meta['gencommons_source']} · {meta['cores']} cores"
        ),
        "",
        (
            "Found pairs = pairs of documents in the same output cluster; recall per bucket = found true pairs / true "
            "pairs, precision = found true pairs / found pairs (both by the pair's true Jaccard; cells are "
            "`recall / precision`)."
        ),
        "",
        *recall_table(scores),
        pairs_row(next(iter(scores.values()))),
        "",
        "## Runs",
        "",
        "| run | kept | dropped | clusters | docs in clusters | pipeline s | CPU s | peak RSS, tree (MB) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        s = scores[r["run"]]
        lines.append(
            f"| {r['run']} | {r['kept']:,} | {r['docs_in'] - r['kept']:,} | {s['clusters']:,} | "
            f"{s['docs_in_clusters']:,} | {r['pipeline_s']:.1f} | {r['cpu_s']:.1f} | {r['peak_tree_rss_mb']:,.0f} |"
        )
    lines += [
        "",
        "## Empirical recall vs the S-curve `1 − (1 − s^r)^b`",
        "",
        (
            "Single-variant clusters only (an original and one near-duplicate): such a pair is in one output cluster "
            "only through its own LSH collision, so its recall estimates the candidate probability. Each cell: "
            "`found/pairs = recall (what the S-curve predicts for those pairs)`. Figure: `bench/results/minhash_scurve.png`."
        ),
        "",
    ]
    names = list(curves)
    lines.append("| true Jaccard | mean | " + " | ".join(names) + " |")
    lines.append("|---|--:|" + "--:|" * len(names))
    bins = sorted({(p["lo"], p["hi"]) for c in curves.values() for p in c["curve"]})
    for lo, hi in bins:
        cells, mean = [], 0.0
        for n in names:
            p = next((p for p in curves[n]["curve"] if p["lo"] == lo), None)
            if p is None:
                cells.append("")
                continue
            mean = p["mean_j"]
            cells.append(f"{p['found']}/{p['pairs']} = {p['found'] / p['pairs']:.2f} ({p['expected']:.2f})")
        lines.append(f"| {lo:.2f}–{hi:.2f} | {mean:.3f} | " + " | ".join(cells) + " |")
    lines += [
        "",
        (
            "All bins together, pairs found vs the S-curve's prediction (the sum of its probability over the pairs; "
            f"z = difference / binomial sd; |z| > {MAX_Z:g} fails the benchmark):"
        ),
        "",
    ]
    for n, c in curves.items():
        b, r = c["bands_rows"]
        f = c["fit"]
        lines.append(
            f"- {n}: {f['found']:,} found, {f['expected']:,.1f} predicted, z = {f['z']:+.2f}; "
            f"threshold (1/b)^(1/r) = {s_curve_threshold(b, r):.3f}"
        )
    lines += [
        "",
        f"## Recall per edit ({edits['run']}, every original–variant pair)",
        "",
        "| edit | rate | pairs | mean true Jaccard | recall | S-curve at the mean |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for e in edits["rows"]:
        rate = "" if e["rate"] is None else f"{e['rate']:.0%}"
        predicted = float(s_curve(e["mean_j"], 14, 8))
        lines.append(
            f"| {e['edit']} | {rate} | {e['pairs']} | {e['mean_j']:.3f} | {e['recall']:.3f} | {predicted:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--originals", type=int, default=ORIGINALS, help="originals in the corpus (each gets 1–3 variants)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--quiet-wait", type=float, default=5, help="seconds to wait for an idle machine before each run"
    )
    args = ap.parse_args(argv)

    WORK.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    corpus = build_corpus(originals=args.originals, seed=args.seed)
    where = corpus.folder.relative_to(ROOT)
    print(
        f"corpus: {corpus.docs:,} documents, {corpus.clusters:,} clusters at {where} ({time.perf_counter() - t0:.1f} s)"
    )
    snapshot, src_hash = snapshot_source(WORK)
    sys.path.insert(0, str(snapshot))
    print(f"warm-up (one run on 200 documents): {warm_up(corpus, snapshot, WORK):.1f} s")

    def gc(name: str, params: dict[str, Any]) -> Run:
        return gencommons_minhash_run(
            name, corpus, params=params, workers=args.workers, snapshot=snapshot, work=WORK
        )

    # independent permutations: the runs the S-curve is exact for; then the default hashing, tabled
    runs = [gc(f"gencommons {b}×{r}", minhash_params(b, r, hashing="minhash")) for b, r in CONFIGS]
    runs.append(gc("gencommons 14×8, verify", minhash_params(14, 8, verify=True, hashing="minhash")))
    runs.append(gc("gencommons 14×8, superminhash", minhash_params(14, 8, hashing="superminhash")))
    runs.append(
        peer_run("datasketch 14×8", "datasketch", corpus, bands=14, rows=8, snapshot=snapshot, work=WORK)
    )
    run_all(runs, corpus.docs, quiet_wait=args.quiet_wait, work=WORK)

    rows = [run_row(r, corpus.docs) for r in runs]
    truth = Truth(corpus)
    scores: dict[str, Any] = {}
    curves: dict[str, Any] = {}
    edits: dict[str, Any] = {}
    for run in runs:
        assign = (
            clusters_gencommons(run.out)
            if run.tool == "gencommons"
            else clusters_from_parquet(run.out / "clusters.parquet")
        )
        scores[run.name] = score(truth, assign)
        if "verify" in run.name:
            continue
        b, r = (int(x) for x in run.name.split()[1].removesuffix(",").split("×"))
        curve = direct_curve(truth, assign, b, r)
        curves[run.name] = {
            "tool": run.tool,
            "bands_rows": (b, r),
            "color": COLORS[(b, r)],
            "curve": curve,
            "fit": curve_fit(curve),
            "s_curve": "superminhash"
            not in run.name,  # superminhash's curve is steeper: not drawn, not checked
        }
        if run.name == "gencommons 14×8":
            edits = {"run": run.name, "rows": edit_recall(truth, assign)}
    single = sum(p["pairs"] for p in next(iter(curves.values()))["curve"])
    RESULTS.mkdir(exist_ok=True)
    plot(curves, RESULTS / "minhash_scurve.png", single)

    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "docs": corpus.docs,
        "clusters": corpus.clusters,
        "true_pairs": next(iter(scores.values()))["true_pairs"],
        "gencommons_source": f"git {git_state()}, snapshot {src_hash}",
        "cores": len(os.sched_getaffinity(0)),
        "corpus": str(corpus.folder.relative_to(ROOT)),
    }
    md = markdown(meta, rows, scores, curves, edits)
    write_results(
        "minhash_quality",
        md,
        {"meta": meta, "runs": rows, "scores": scores, "curves": curves, "edits": edits},
    )
    print(
        f"\nwrote bench/results/minhash_quality.md, .json and minhash_scurve.png ({time.perf_counter() - t0:.0f} s)"
    )
    failed = [n for n, s in scores.items() if s["precision"] is not None and s["precision"] < 0.99]
    failed += [n for n, c in curves.items() if c["s_curve"] and abs(c["fit"]["z"]) > MAX_Z]
    if failed:
        print(f"FAILED checks: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
