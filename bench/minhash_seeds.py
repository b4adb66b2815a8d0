"""MinHash near-dedup recall over seeds: gencommons, datasketch and rensa, each run with K seeds.

    .venv/bin/python bench/minhash_seeds.py                   # 10 seeds per tool, ~11k documents, ~4 minutes
    .venv/bin/python bench/minhash_seeds.py --seeds 3 --originals 500   # smoke test

``minhash_vs_peers.py`` runs every tool once, with one seed, and the tools' recall of the true pairs
at Jaccard 0.8–0.9 differs in the third decimal. With the same 14 bands × 8 rows every tool follows
the same LSH S-curve, so such differences should be the luck of one seed. This benchmark measures that
luck: each tool runs with seeds ``0 .. K−1`` (``--seeds K``, 10) on the same corpus, and the report
gives the spread of each figure over seeds next to the S-curve's expectation.

**Corpus**: ``build_corpus(originals=--originals, seed=0, repeat=1)`` of ``_minhash_corpus.py``
(4,000 originals with 1–3 injected near-duplicates each: 10,960 documents in 8 ``.jsonl.gz`` files,
ground truth and true Jaccard of every true pair known).

**Runs**, all with word 5-grams of lowercased text, 112 permutations as 14 bands × 8 rows, no
verification, union-find clusters, the first document (input order) kept:

* gencommons: ``minhash_dedup`` with ``seed: s`` (which seeds both its token hashing and its
  permutations) in a one-step pipeline, local executor at 1 worker, run in this process (quality only:
  nothing is timed); once with the default ``hashing: superminhash`` (``gencommons superminhash``) and
  once with ``hashing: minhash`` (independent permutations, ``gencommons minhash``);
* datasketch ``MinHash.bulk(seed=s)`` + ``MinHashLSH`` and rensa ``RMinHash.from_token_sets(..., s)`` +
  ``RMinHashLSH``: ``_minhash_peer_driver.py --seed s``, one subprocess per run.

Seed 1 is the default of gencommons and datasketch, so the seed ``minhash_vs_peers.py`` uses for them
is one of the K; rensa's default there is 42, which is not.

**Scores** (``_minhash_scoring.score``: found pairs = pairs of documents in one output cluster): recall
at true Jaccard 0.8–0.9, at J ≥ 0.8 (0.8–0.9, 0.9–<1 and identical shingle sets), at 0.7–0.8, and
precision over all found pairs. Per tool: mean, sample standard deviation, min and max over the seeds.

**Expectation**: the mean of the S-curve ``1 − (1 − s^8)^14`` over the true pairs of each bucket, and
the standard deviation of recall that independent pairs would give, ``sqrt(Σ p(1 − p)) / n``. Pairs of
a cluster of 3 or 4 documents can also be joined through a third document, so found-pair recall can sit
a little above the per-pair S-curve; and pairs of one cluster are not independent, so the spread over
seeds can exceed the independent-pairs figure.

**Test**: Welch's t-test (unequal variances) of gencommons' recall at 0.8–0.9 (each hashing)
against each peer's, and of the two hashings against each other, over the seeds. A large p-value says
the difference between the tools is within their seed-to-seed spread.

Writes ``bench/results/minhash_seeds.md`` (printed too) and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from _minhash_corpus import ORIGINALS, Corpus, build_corpus
from _minhash_corpus import WORK as MINHASH_WORK
from _minhash_runs import minhash_params, peer_run
from _minhash_scoring import (
    BUCKET_EDGES,
    BUCKETS,
    Truth,
    clusters_from_parquet,
    clusters_gencommons,
    s_curve,
    score,
)
from _results import write_results
from filters_vs_datatrove import ROOT, git_state

RESULTS = ROOT / "bench" / "results"
WORK = MINHASH_WORK / "seeds"
BANDS, ROWS = 14, 8
TOOLS = ("gencommons superminhash", "gencommons minhash", "datasketch", "rensa")
# tool: hashing (superminhash is the default)
GENCOMMONS = {"gencommons superminhash": "superminhash", "gencommons minhash": "minhash"}
# (key, column title, the true-Jaccard buckets it covers)
FIGURES: tuple[tuple[str, str, tuple[str, ...] | None], ...] = (
    ("recall_08_09", "recall, J 0.8–0.9", ("0.8–0.9",)),
    ("recall_ge_08", "recall, J ≥ 0.8", ("0.8–0.9", "0.9–<1", "1.0")),
    ("recall_07_08", "recall, J 0.7–0.8", ("0.7–0.8",)),
    ("precision", "precision, all", None),
)


def figures(s: dict[str, Any]) -> dict[str, float]:
    """The reported figures of one ``score(...)``: recall over some buckets together, and precision."""
    out: dict[str, float] = {}
    for key, _, buckets in FIGURES:
        if buckets is None:
            out[key] = s["precision"]
            continue
        rows = [b for b in s["buckets"] if b["bucket"] in buckets]
        out[key] = sum(b["found_true"] for b in rows) / max(1, sum(b["true_pairs"] for b in rows))
    return out


def expectation(truth: Truth) -> dict[str, dict[str, float]]:
    """Per figure (recall only): the S-curve's mean over the true pairs of its buckets, the standard
    deviation of recall for independent pairs, and the number of pairs."""
    j = truth.pairs["jaccard"].to_numpy()
    bucket = np.searchsorted(BUCKET_EDGES, j, side="right")
    p = s_curve(j, BANDS, ROWS)
    out = {}
    for key, _, buckets in FIGURES:
        if buckets is None:
            continue
        sel = np.isin(bucket, [BUCKETS.index(b) for b in buckets])
        n = int(sel.sum())
        out[key] = {
            "mean": float(p[sel].mean()) if n else math.nan,
            "sd": float(math.sqrt((p[sel] * (1 - p[sel])).sum()) / n) if n else math.nan,
            "pairs": n,
        }
    return out


def run_gencommons(corpus: Corpus, seed: int, out: Path, hashing: str = "minhash") -> dict[str, Any]:
    """``minhash_dedup`` in a one-step pipeline, local executor at 1 worker (in this process)."""
    from gencommons.data.pipeline import Pipeline

    params = minhash_params(BANDS, ROWS, seed=seed, keep="first", verify=False, hashing=hashing)
    cfg = {
        "input": {"path": str(corpus.folder / "*.jsonl.gz"), "format": "jsonl"},
        "steps": [{"minhash_dedup": params}],
        "output": {"path": str(out), "format": "parquet"},
        "executor": {"kind": "local", "workers": 1},
    }
    counts = Pipeline.from_dict(cfg).run(overwrite=True).manifest["counts"]
    return {"docs_in": counts["documents_in"], "docs_out": counts["documents_out"]}


def run_peer(tool: str, corpus: Corpus, seed: int) -> tuple[dict[str, Any], Path]:
    """``_minhash_peer_driver.py --tool <tool> --seed <seed>`` as ``peer_run`` builds it, one subprocess."""
    run = peer_run(tool, tool, corpus, bands=BANDS, rows=ROWS, snapshot=ROOT / "src", work=WORK)
    cmd = [*run.cmd, "--seed", str(seed)]
    done = subprocess.run(cmd, env=run.env, cwd=ROOT, capture_output=True, text=True, check=False)
    result = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if done.returncode != 0 or result is None:
        raise SystemExit(f"{tool} seed {seed} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    return json.loads(result[len("RESULT ") :]), run.out


def summarize(values: list[float]) -> dict[str, float]:
    x = np.asarray(values, dtype=float)
    return {
        "mean": float(x.mean()),
        "sd": float(x.std(ddof=1)) if len(x) > 1 else math.nan,
        "min": float(x.min()),
        "max": float(x.max()),
        "n": len(x),
    }


def welch(a: list[float], b: list[float]) -> dict[str, float]:
    """Welch's t-test of two samples; nan where it is undefined (fewer than 2 runs, or no spread)."""
    from scipy.stats import ttest_ind

    if len(a) < 2 or len(b) < 2 or (np.std(a) == 0 and np.std(b) == 0):
        return {"diff": float(np.mean(a) - np.mean(b)), "t": math.nan, "p": math.nan}
    with warnings.catch_warnings():  # scipy warns when a sample's values are (nearly) all equal
        warnings.simplefilter("ignore", RuntimeWarning)
        t = ttest_ind(a, b, equal_var=False)
    return {"diff": float(np.mean(a) - np.mean(b)), "t": float(t.statistic), "p": float(t.pvalue)}


def cell(s: dict[str, float], digits: int = 4) -> str:
    sd = "–" if math.isnan(s["sd"]) else f"{s['sd']:.{digits}f}"
    return f"{s['mean']:.{digits}f} ± {sd} ({s['min']:.{digits}f}–{s['max']:.{digits}f})"


def markdown(
    meta: dict[str, Any],
    summary: dict[str, dict[str, dict[str, float]]],
    expected: dict[str, dict[str, float]],
    tests: dict[str, dict[str, float]],
    runs: list[dict[str, Any]],
) -> str:
    v = meta["versions"]
    seeds = meta["seeds"]
    lines = [
        "# MinHash near-dedup: recall over seeds",
        "",
        (
            f"{meta['date']} · {meta['docs']:,} documents ({meta['clusters']:,} ground-truth clusters) · word 5-grams, "
            f"{BANDS} bands × {ROWS} rows (112 permutations), keep first, no verification · seeds "
            f"{seeds[0]}–{seeds[-1]} ({len(seeds)} per tool) · gencommons {meta['gencommons_source']} · datasketch "
            f"{v['datasketch']}, rensa {v['rensa']}, Python {v['python']}"
        ),
        "",
        (
            "Each cell: mean ± sample standard deviation (min–max) over the seeds. Recall of found pairs (pairs in "
            "one output cluster) per true-Jaccard range; true pairs: "
            + ", ".join(
                f"{t.removeprefix('recall, ')} {expected[k]['pairs']:,}"
                for k, t, b in FIGURES
                if b is not None
            )
            + ". S-curve row: the mean of `1 − (1 − s^8)^14` over those true pairs ± the standard deviation of "
            "recall if every pair were found independently; found-pair recall can sit a little above it, as pairs "
            "of a cluster of 3–4 documents are also joined through a third document."
        ),
        "",
        "| tool | " + " | ".join(t for _, t, _ in FIGURES) + " | kept (mean) |",
        "|---|" + "--:|" * (len(FIGURES) + 1),
    ]
    for tool, s in summary.items():
        kept = np.mean([r["docs_out"] for r in runs if r["tool"] == tool])
        lines.append(f"| {tool} | " + " | ".join(cell(s[k]) for k, _, _ in FIGURES) + f" | {kept:,.0f} |")
    cells = [
        f"{expected[k]['mean']:.4f} ± {expected[k]['sd']:.4f}" if k in expected else "–"
        for k, _, _ in FIGURES
    ]
    lines.append("| S-curve (per pair) | " + " | ".join(cells) + " | |")
    lines += [
        "",
        "## gencommons vs each peer: Welch's t-test on the recall at J 0.8–0.9",
        "",
        "| pair | first − second (mean) | t | p |",
        "|---|--:|--:|--:|",
    ]
    for peer, t in tests.items():
        tt = "–" if math.isnan(t["t"]) else f"{t['t']:+.2f}"
        p = "–" if math.isnan(t["p"]) else f"{t['p']:.2g}"
        lines.append(f"| {peer} | {t['diff']:+.4f} | {tt} | {p} |")
    lines += [
        "",
        "## Recall at J 0.8–0.9 per seed",
        "",
        "| seed | " + " | ".join(summary) + " |",
        "|--:|" + "--:|" * len(summary),
    ]
    by = {(r["tool"], r["seed"]): r for r in runs}
    for seed in seeds:
        vals = [by.get((tool, seed)) for tool in summary]
        lines.append(
            f"| {seed} | " + " | ".join("" if r is None else f"{r['recall_08_09']:.4f}" for r in vals) + " |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10, help="seeds per tool: 0 .. K−1")
    ap.add_argument("--originals", type=int, default=ORIGINALS, help="originals of the quality corpus")
    args = ap.parse_args(argv)
    if args.seeds < 1:
        ap.error("--seeds must be at least 1")

    t_start = time.perf_counter()
    WORK.mkdir(parents=True, exist_ok=True)
    corpus = build_corpus(originals=args.originals, seed=0, repeat=1)
    print(f"corpus: {corpus.docs:,} documents at {corpus.folder.relative_to(ROOT)}", flush=True)
    truth = Truth(corpus)
    expected = expectation(truth)

    seeds = list(range(args.seeds))
    runs: list[dict[str, Any]] = []
    for seed in seeds:
        for tool in TOOLS:
            t0 = time.perf_counter()
            if tool in GENCOMMONS:
                out = WORK / "out" / "gencommons"
                res = run_gencommons(corpus, seed, out, GENCOMMONS[tool])
                assign = clusters_gencommons(out)
            else:
                res, out = run_peer(tool, corpus, seed)
                assign = clusters_from_parquet(out / "clusters.parquet")
            if res["docs_in"] != corpus.docs:
                raise SystemExit(
                    f"{tool} seed {seed} read {res['docs_in']} documents, expected {corpus.docs}"
                )
            seconds = time.perf_counter() - t0
            s = score(truth, assign)
            row = {"tool": tool, "seed": seed, "docs_out": res["docs_out"], "seconds": round(seconds, 2)}
            row |= figures(s)
            runs.append(row)
            print(
                f"seed {seed:>2} {tool:<23} {seconds:5.1f} s, kept {res['docs_out']:,}: recall 0.8–0.9 "
                f"{row['recall_08_09']:.4f}, ≥ 0.8 {row['recall_ge_08']:.4f}, 0.7–0.8 "
                f"{row['recall_07_08']:.4f}, precision {row['precision']:.4f}",
                flush=True,
            )

    summary = {
        tool: {k: summarize([r[k] for r in runs if r["tool"] == tool]) for k, _, _ in FIGURES}
        for tool in TOOLS
    }
    recall = {tool: [r["recall_08_09"] for r in runs if r["tool"] == tool] for tool in TOOLS}
    tests = {
        f"{g} vs {peer}": welch(recall[g], recall[peer])
        for g in GENCOMMONS
        for peer in TOOLS
        if peer != g and not (peer in GENCOMMONS and g == "gencommons minhash")
    }
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "docs": corpus.docs,
        "clusters": corpus.clusters,
        "corpus": str(corpus.folder.relative_to(ROOT)),
        "seeds": seeds,
        "bands": BANDS,
        "rows": ROWS,
        "cores": len(os.sched_getaffinity(0)),
        "gencommons_source": f"git {git_state()}",
        "versions": {
            "gencommons": version("gencommons"),
            "datasketch": version("datasketch"),
            "rensa": version("rensa"),
            "python": sys.version.split()[0],
        },
    }
    md = markdown(meta, summary, expected, tests, runs)
    payload = {"meta": meta, "expected": expected, "summary": summary, "tests": tests, "runs": runs}
    write_results("minhash_seeds", md, payload)
    print(f"\nwrote bench/results/minhash_seeds.md and .json ({time.perf_counter() - t_start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
