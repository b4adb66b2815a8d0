"""A differentially private release of the votes: per-pair vote counts per language and category.

``gencommons arena release OUT/ --epsilon 1``. What it guarantees: user-level ε-differential privacy —
whether or not any one person voted (with any number of votes) changes the probability of any output
by at most a factor ``e^ε``. How:

1. **Bounded contribution**: each user keeps at most ``max_votes_per_user`` (k) of their votes, chosen
   at random (seeded); the rest are left out of the release.
2. **Public domain**: one cell per (language, category, model_a, model_b, winner) over a domain fixed
   before looking at the data — the models of the arena, the languages given with ``--languages``
   (others counted as ``other``), the four categories and the four outcomes — so that which cells
   exist reveals nothing.
3. **Noise**: every cell count (zeros included) gets discrete Laplace noise of scale ``k / ε`` through
   OpenDP's vetted ``make_laplace`` on an integer vector (one user changes at most k cells by one: L1
   sensitivity k); the privacy map of the measurement is checked to be ≤ ε.

The released counts are unbiased, so they can be negative where the true count is small: sum the cells
you need first (e.g. over languages and categories for the overall board), then clip at 0 —
``aggregate`` does it — and the result feeds the same Bradley–Terry fit as the raw votes (``count``
column). Clipping every cell before summing would add about scale/2 to each empty cell and pull the
ratings together. How close the released leaderboard comes to the exact one as a function of ε is
measured in the tests (``test_release.py``).
"""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Sequence
from typing import Any

from gencommons.arena.classify import CATEGORIES
from gencommons.arena.db import WINNERS
from gencommons.errors import UserError

OTHER = "other"


def noisy_counts(
    votes: Sequence[dict[str, Any]],
    *,
    models: Sequence[str],
    languages: Sequence[str],
    epsilon: float,
    max_votes_per_user: int,
    seed: int | None = None,
) -> list[dict[str, Any]]:
    """The released rows: language, category, model_a, model_b, winner, count (noisy, unbiased, may be < 0).

    ``votes``: rows with user, language, category, model_a, model_b, winner.
    """
    import numpy as np
    import opendp.prelude as dp

    if epsilon <= 0:
        raise UserError(f"--epsilon must be positive, not {epsilon}.")
    if max_votes_per_user < 1:
        raise UserError("--max-votes-per-user must be at least 1.")
    rng = random.Random(seed)
    by_user: dict[str, list[dict[str, Any]]] = {}
    for v in votes:
        by_user.setdefault(str(v["user"]), []).append(v)
    kept = [
        v
        for rows in by_user.values()
        for v in (rows if len(rows) <= max_votes_per_user else rng.sample(rows, max_votes_per_user))
    ]
    langs = [*sorted(set(languages)), OTHER]
    cells = list(itertools.product(langs, CATEGORIES, sorted(models), sorted(models), WINNERS))
    cells = [c for c in cells if c[2] != c[3]]
    index = {c: i for i, c in enumerate(cells)}
    counts = np.zeros(len(cells), dtype=np.int64)
    for v in kept:
        lang = v["language"] if v["language"] in languages else OTHER
        cat = v["category"] if v["category"] in CATEGORIES else "other"
        key = (lang, cat, v["model_a"], v["model_b"], v["winner"])
        if key in index:  # a model removed from the domain: not released
            counts[index[key]] += 1
    dp.enable_features("contrib")
    space = dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int)
    scale = max_votes_per_user / epsilon
    measurement = space >> dp.m.then_laplace(scale=scale)
    spent = measurement.map(d_in=max_votes_per_user)
    if spent > epsilon * (1 + 1e-9):
        raise RuntimeError(f"the measurement spends ε = {spent}, more than the {epsilon} asked")
    noisy = np.asarray(measurement(counts.tolist()), dtype=np.int64)
    return [
        {
            "language": c[0],
            "category": c[1],
            "model_a": c[2],
            "model_b": c[3],
            "winner": c[4],
            "count": int(n),
        }
        for c, n in zip(cells, noisy, strict=True)
    ]


def aggregate(rows: Any, *, language: str | None = None, category: str | None = None) -> Any:
    """Released rows summed to (model_a, model_b, winner) counts for one language/category or all, then
    clipped at 0: the vote table of that leaderboard."""
    import polars as pl

    df = rows if isinstance(rows, pl.DataFrame) else pl.DataFrame(rows)
    if language:
        df = df.filter(pl.col("language") == language)
    if category:
        df = df.filter(pl.col("category") == category)
    out = df.group_by("model_a", "model_b", "winner").agg(pl.col("count").sum())
    return (
        out.with_columns(pl.col("count").clip(lower_bound=0))
        .filter(pl.col("count") > 0)
        .sort("model_a", "model_b", "winner")
    )


def release(
    votes: Sequence[dict[str, Any]],
    out: str,
    *,
    models: Sequence[str],
    languages: Sequence[str],
    epsilon: float,
    max_votes_per_user: int,
    overwrite: bool = False,
) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from gencommons.lineage.atomic import atomic_dir
    from gencommons.lineage.hashing import content_id, file_sha256
    from gencommons.lineage.manifest import new_manifest, write_manifest

    rows = noisy_counts(
        votes, models=models, languages=languages, epsilon=epsilon, max_votes_per_user=max_votes_per_user
    )
    table = pa.Table.from_pylist(rows)
    with atomic_dir(out, overwrite=overwrite) as tmp:
        os.makedirs(os.path.join(tmp, "data"))
        pq.write_table(table, os.path.join(tmp, "data", "counts.parquet"))
        with open(os.path.join(tmp, "README.md"), "w", encoding="utf-8") as fh:
            fh.write(
                "---\nlicense: cc-by-4.0\ntags:\n- preference\n- differential-privacy\n- arena\n---\n\n"
                "# Arena vote counts with differential privacy\n\n"
                f"Per-pair vote counts per language and category, released with user-level ε = {epsilon} "
                f"differential privacy: at most {max_votes_per_user} votes per user, discrete Laplace noise of "
                f"scale {max_votes_per_user / epsilon:g} on every cell of a public domain ({len(rows):,} cells: "
                f"languages {', '.join(sorted(set(languages)))} and other, categories {', '.join(CATEGORIES)}, "
                f"{len(models)} models, 4 outcomes) with OpenDP's make_laplace. The counts are unbiased and can be "
                "negative: sum the cells you need (e.g. over languages and categories), clip at 0, then rate them "
                "(`gencommons.arena.release.aggregate`, then `gencommons arena ratings --votes` with the `count` column).\n"
            )
        files = [(f, file_sha256(os.path.join(tmp, f))) for f in ("data/counts.parquet", "README.md")]
        manifest = new_manifest(
            "feedback-release",
            content_id=content_id(files),
            config={
                "epsilon": epsilon,
                "max_votes_per_user": max_votes_per_user,
                "mechanism": "discrete Laplace (OpenDP make_laplace), L1 sensitivity = max_votes_per_user",
                "languages": sorted(set(languages)),
                "models": sorted(models),
            },
            counts={"cells": len(rows), "votes_in": len(votes)},
            files=[{"path": f, "sha256": h} for f, h in files],
        )
        write_manifest(tmp, manifest)
    return manifest
