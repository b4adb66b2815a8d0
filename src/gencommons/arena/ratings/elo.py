"""Online Elo, Chatbot Arena's secondary view: one pass over the votes in order.

Each vote moves both ratings by ``k * (score - expected)``, with ``expected = 1 / (1 + base **
((R_b - R_a) / scale))`` and ties (both kinds) scoring 0.5, as in Chatbot Arena's notebook (k = 4).
Unlike Bradley–Terry it depends on the order of the votes (by ``tstamp`` when the table has one, else
the row order; a row with a ``count`` stands for that many votes in a row), so aggregated counts and the
individual votes agree only when their order does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from gencommons.arena.ratings.votes import as_polars, check_votes


def online_elo(
    votes: Any, *, k: float = 4.0, scale: float = 400.0, base: float = 10.0, init_rating: float = 1000.0
) -> dict[str, float]:
    """Online Elo ratings after one pass over the votes.

    Example:
        >>> import polars as pl
        >>> votes = pl.DataFrame({"model_a": ["x"], "model_b": ["y"], "winner": ["model_a"]})
        >>> online_elo(votes)
        {'x': 1002.0, 'y': 998.0}
    """
    df = as_polars(votes)
    check_votes(df)
    if "tstamp" in df.columns:
        df = df.sort("tstamp", maintain_order=True)
    if "count" in df.columns:
        df = df.filter(pl.col("count") > 0)
    model_a, model_b = df["model_a"].cast(pl.String), df["model_b"].cast(pl.String)
    models = sorted(pl.concat([model_a.unique(), model_b.unique()]).unique().to_list())
    enum = pl.Enum(models)
    ia = model_a.cast(enum).to_physical().to_numpy()
    ib = model_b.cast(enum).to_physical().to_numpy()
    score = df["winner"].replace_strict({"model_a": 1.0, "model_b": 0.0}, default=0.5).to_numpy()
    if "count" in df.columns:
        repeat = df["count"].cast(pl.Int64).to_numpy()
        ia, ib, score = np.repeat(ia, repeat), np.repeat(ib, repeat), np.repeat(score, repeat)
    rating = [init_rating] * len(models)
    inv = 1.0 / scale
    # a plain loop over Python floats: each vote depends on the previous one (~0.3 µs per vote)
    for a, b, s in zip(ia.tolist(), ib.tolist(), score.tolist(), strict=True):
        ra, rb = rating[a], rating[b]
        ea = 1.0 / (1.0 + base ** ((rb - ra) * inv))
        delta = k * (s - ea)
        rating[a] = ra + delta
        rating[b] = rb - delta
    return dict(zip(models, rating, strict=True))
