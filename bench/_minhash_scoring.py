"""Scoring near-duplicate detection against the ground truth of ``_minhash_corpus.py``.

**Found pairs.** Every tool here ends with clusters (connected components of its candidate pairs) and
keeps one document of each. A tool's *found pairs* are all pairs of documents in the same output
cluster: a cluster of k documents finds k(k−1)/2 pairs, including pairs that were never candidates
themselves but are joined through a third document (transitivity is part of what a user gets). The
clusters come from each tool's own output: gencommons' ``steps/minhash_dedup/clusters.parquet``,
datatrove's ``minhash_cluster_id`` metadata (``save_cluster_id`` / ``load_cluster_ids``), the peer
driver's ``clusters.parquet``. A document in no cluster found no pair.

**True pairs** are the pairs of one ground-truth cluster (an original and its variants; in a repeated
corpus also every copy of them, and the copies of one document among themselves, at Jaccard 1).

**Per true-Jaccard bucket** (0–0.5, 0.5–0.6, ..., 0.9–<1, and 1.0 = identical shingle sets apart):

* recall = found true pairs / true pairs whose true Jaccard is in the bucket;
* precision = found true pairs / found pairs whose true Jaccard is in the bucket (a found pair across
  ground-truth clusters gets its true Jaccard computed from the two texts). The originals were drawn
  with pairwise Jaccard < 0.2, so a found pair across clusters is a false positive in any bucket.

**S-curve points** (``direct_curve``): recall of the (original, variant) pairs of clusters with a single
variant, in 0.05-wide Jaccard bins. Such a pair is in one output cluster only through its own LSH
collision (or through an unrelated document, which the precision shows to be rare), so its recall
estimates the LSH candidate probability ``1 − (1 − s^r)^b`` directly, without transitivity.
"""

from __future__ import annotations

import glob
import gzip
import math
import random
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl

from _minhash_corpus import Corpus, base_id, jaccard, shingle_hashes

BUCKET_EDGES = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
BUCKETS = ("0–0.5", "0.5–0.6", "0.6–0.7", "0.7–0.8", "0.8–0.9", "0.9–<1", "1.0")
FALSE_PAIRS_PER_CLUSTER = 100_000  # above this, a (merged) output cluster's cross pairs are sampled


def bucket_of(j: float) -> int:
    """0..6: the index in BUCKETS of a true Jaccard value (1.0 only for identical shingle sets)."""
    return int(np.searchsorted(BUCKET_EDGES, j, side="right"))


def s_curve(s: np.ndarray | float, bands: int, rows: int) -> np.ndarray | float:
    """Probability that a pair of Jaccard s shares at least one of ``bands`` bands of ``rows`` hashes."""
    return 1 - (1 - np.asarray(s) ** rows) ** bands


def s_curve_threshold(bands: int, rows: int) -> float:
    """The usual threshold estimate (1/b)^(1/r): where the S-curve is steepest."""
    return float((1 / bands) ** (1 / rows))


# ---------------------------------------------------------------- reading each tool's clusters


def clusters_from_parquet(path: Path) -> dict[str, Any]:
    """``id, cluster`` rows, or a gencommons-style ``clusters.parquet`` with a list column of member ids."""
    df = pl.read_parquet(path, glob=False)
    lists = [c for c, t in df.schema.items() if isinstance(t, pl.List)]
    if lists:
        members = lists[0]
        key = next((c for c in df.columns if c != members and "cluster" in c), None)
        df = df.with_row_index("_c") if key is None else df
        df = df.select(pl.col(key or "_c").alias("cluster"), pl.col(members).alias("id")).explode("id")
    else:
        id_col = next(c for c in ("id", "doc_id", "document_id") if c in df.columns)
        cl_col = next(c for c in df.columns if c != id_col and "cluster" in c)
        df = df.select(pl.col(id_col).alias("id"), pl.col(cl_col).alias("cluster"))
    if df["id"].dtype != pl.String:
        raise SystemExit(
            f"{path}: members are {df['id'].dtype}, not document ids; adapt clusters_from_parquet"
        )
    return dict(zip(df["id"].to_list(), df["cluster"].to_list(), strict=True))


def clusters_datatrove(out: Path) -> dict[str, Any]:
    """``minhash_cluster_id`` of every kept and removed document (-1 = in no cluster)."""
    assign: dict[str, Any] = {}
    for f in sorted(glob.glob(str(out / "kept" / "*.jsonl.gz"))) + sorted(
        glob.glob(str(out / "removed" / "*.jsonl.gz"))
    ):
        with gzip.open(f, "rb") as fh:
            for line in fh:
                rec = orjson.loads(line)
                cid = rec.get("metadata", {}).get("minhash_cluster_id", -1)
                if cid != -1:
                    assign[rec["id"]] = cid
    return assign


def clusters_gencommons(out: Path, step: str = "minhash_dedup") -> dict[str, Any]:
    """The ``clusters.parquet`` the step leaves in ``<output>/steps/<step>/``."""
    path = out / "steps" / step / "clusters.parquet"
    if not path.exists():
        found = sorted(
            str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and "data" not in p.parts
        )
        raise SystemExit(
            f"{out}: no steps/{step}/clusters.parquet (found {found}); adapt clusters_gencommons"
        )
    return clusters_from_parquet(path)


# ---------------------------------------------------------------- the truth


class Truth:
    """The ground truth of one corpus, and true Jaccard on demand for any pair of its documents."""

    def __init__(self, corpus: Corpus):
        self.corpus = corpus
        truth = pl.read_parquet(corpus.truth)
        self.cluster: dict[str, int] = dict(
            zip(truth["id"].to_list(), truth["cluster"].to_list(), strict=True)
        )
        self.pairs = pl.read_parquet(corpus.pairs)
        self._texts: dict[str, str] | None = None
        self._sigs: dict[str, np.ndarray] = {}

    def jaccard(self, a: str, b: str) -> float:
        if self._texts is None:
            self._texts = self.corpus.texts()
        for x in (a, b):
            if x not in self._sigs:
                self._sigs[x] = shingle_hashes(self._texts[x])
        return jaccard(self._sigs[a], self._sigs[b])


def score(truth: Truth, assign: dict[str, Any]) -> dict[str, Any]:
    """Precision and recall of found pairs per true-Jaccard bucket (see the module docstring)."""
    reps = truth.corpus.repeat
    n_b = len(BUCKETS)
    true_total, true_found, false_found = np.zeros(n_b), np.zeros(n_b), np.zeros(n_b)
    labels: dict[str, Counter[Any]] = defaultdict(Counter)  # base id -> output cluster -> copies in it
    for doc_id, label in assign.items():
        labels[base_id(doc_id)][label] += 1

    # true pairs of distinct base documents: reps × reps copies of each
    for a, b, j in truth.pairs.select("a", "b", "jaccard").iter_rows():
        k = bucket_of(j)
        true_total[k] += reps * reps
        la, lb = labels.get(a), labels.get(b)
        if la and lb:
            true_found[k] += sum(n * lb[lab] for lab, n in la.items() if lab in lb)
    # copies of one document among themselves (repeated corpus): identical, bucket 1.0
    if reps > 1:
        k = bucket_of(1.0)
        true_total[k] += len(truth.cluster) * math.comb(reps, 2)
        true_found[k] += sum(math.comb(n, 2) for c in labels.values() for n in c.values())

    # found pairs across ground-truth clusters: false positives, bucketed by their true Jaccard
    groups: dict[Any, list[tuple[str, int]]] = defaultdict(list)
    for b, c in labels.items():
        for lab, n in c.items():
            groups[lab].append((b, n))
    sampled = False
    for members in groups.values():
        cross = (
            [
                (x, y)
                for i, x in enumerate(members)
                for y in members[i + 1 :]
                if truth.cluster[x[0]] != truth.cluster[y[0]]
            ]
            if len(members) <= 450
            else None
        )  # 450 members: ~100k pairs
        if cross is None or len(cross) > FALSE_PAIRS_PER_CLUSTER:
            sampled = True
            rng = random.Random(0)
            draws = [tuple(rng.sample(members, 2)) for _ in range(FALSE_PAIRS_PER_CLUSTER)]
            total = len(members) * (len(members) - 1) / 2
            weight = total / len(draws)
            cross = [(x, y) for x, y in draws if truth.cluster[x[0]] != truth.cluster[y[0]]]
        else:
            weight = 1.0
        for (x, nx), (y, ny) in cross:
            false_found[bucket_of(truth.jaccard(x, y))] += nx * ny * weight

    rows = []
    for k, name in enumerate(BUCKETS):
        found = true_found[k] + false_found[k]
        rows.append(
            {
                "bucket": name,
                "true_pairs": int(true_total[k]),
                "found_true": int(true_found[k]),
                "recall": true_found[k] / true_total[k] if true_total[k] else None,
                "found_pairs": round(float(found)),
                "false_pairs": round(float(false_found[k])),
                "precision": true_found[k] / found if found else None,
            }
        )
    tt, tf, ff = true_total.sum(), true_found.sum(), false_found.sum()
    return {
        "buckets": rows,
        "true_pairs": int(tt),
        "found_true": int(tf),
        "false_pairs": round(float(ff)),
        "recall": tf / tt if tt else None,
        "precision": tf / (tf + ff) if tf + ff else None,
        "docs_in_clusters": len(assign),
        "clusters": len(groups),
        "false_pairs_sampled": sampled,
    }


def direct_curve(
    truth: Truth, assign: dict[str, Any], bands: int, rows: int, width: float = 0.05
) -> list[dict[str, Any]]:
    """Recall of single-variant (original, variant) pairs per ``width``-wide true-Jaccard bin, with the
    recall the S-curve predicts for those very pairs (``expected``: the mean of ``s_curve`` over them)
    and its binomial variance (``var``: the sum of p(1 − p), for z-scores)."""
    df = truth.pairs.filter(pl.col("single") & (pl.col("kind") == "original-variant"))
    found = [
        a in assign and b in assign and assign[a] == assign[b] for a, b in df.select("a", "b").iter_rows()
    ]
    prob = s_curve(df["jaccard"].to_numpy(), bands, rows)
    df = df.with_columns(
        found=pl.Series(found),
        p=pl.Series(prob),
        bin=(pl.col("jaccard") / width).floor().clip(0, 1 / width - 1),
    )
    out = (
        df.group_by("bin")
        .agg(
            pl.len().alias("pairs"),
            pl.col("found").sum().alias("found"),
            pl.col("jaccard").mean().alias("mean_j"),
            pl.col("p").mean().alias("expected"),
            (pl.col("p") * (1 - pl.col("p"))).sum().alias("var"),
        )
        .sort("bin")
    )
    return [
        {"lo": round(r["bin"] * width, 4), "hi": round((r["bin"] + 1) * width, 4)}
        | {k: r[k] for k in ("pairs", "found", "mean_j", "expected", "var")}
        for r in out.iter_rows(named=True)
    ]


def curve_fit(curve: list[dict[str, Any]]) -> dict[str, float]:
    """Found vs predicted over all bins: z = (found − expected) / sqrt(variance), Σ over independent pairs."""
    found = sum(p["found"] for p in curve)
    expected = sum(p["expected"] * p["pairs"] for p in curve)
    var = sum(p["var"] for p in curve)
    return {"found": found, "expected": expected, "z": (found - expected) / math.sqrt(var) if var else 0.0}


def wilson(found: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson interval of a proportion."""
    if n == 0:
        return (0.0, 1.0)
    p = found / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def recall_table(results: dict[str, dict[str, Any]]) -> list[str]:
    """Markdown: one row per run, ``recall / precision`` per bucket, then recall at J ≥ 0.8 and overall
    precision."""
    lines = [
        "| run | " + " | ".join(BUCKETS) + " | recall, J ≥ 0.8 | precision, all |",
        "|---|" + "--:|" * (len(BUCKETS) + 2),
    ]
    for name, s in results.items():
        cells = []
        for b in s["buckets"]:
            r = "–" if b["recall"] is None else f"{b['recall']:.3f}"
            p = "–" if b["precision"] is None else f"{b['precision']:.3f}"
            cells.append(f"{r} / {p}")
        hi = [b for b in s["buckets"] if BUCKETS.index(b["bucket"]) >= BUCKETS.index("0.8–0.9")]
        r08 = sum(b["found_true"] for b in hi) / max(1, sum(b["true_pairs"] for b in hi))
        prec = "–" if s["precision"] is None else f"{s['precision']:.4f}"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {r08:.3f} | {prec} |")
    return lines


def pairs_row(truth_score: dict[str, Any]) -> str:
    """Markdown: the number of true pairs per bucket (the same for every tool)."""
    hi = sum(b["true_pairs"] for b in truth_score["buckets"] if b["bucket"] in ("0.8–0.9", "0.9–<1", "1.0"))
    cells = " | ".join(f"{b['true_pairs']:,}" for b in truth_score["buckets"])
    return f"| true pairs | {cells} | {hi:,} | |"


def edit_recall(truth: Truth, assign: dict[str, Any]) -> list[dict[str, Any]]:
    """Recall of (original, variant) pairs per edit kind and rate, with their mean true Jaccard."""
    df = truth.pairs.filter(pl.col("kind") == "original-variant")
    found = [
        a in assign and b in assign and assign[a] == assign[b] for a, b in df.select("a", "b").iter_rows()
    ]
    out = (
        df.with_columns(found=pl.Series(found))
        .group_by("edit", "rate")
        .agg(
            pl.len().alias("pairs"),
            pl.col("jaccard").mean().alias("mean_j"),
            pl.col("found").mean().alias("recall"),
        )
        .sort("mean_j", descending=True)
    )
    return out.to_dicts()
