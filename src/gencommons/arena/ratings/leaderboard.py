"""The leaderboard: ratings, 95% intervals, ranks, provisional flags, online Elo and robustness in one call.

* rating: the Bradley–Terry fit on all votes (``bradley_terry.py``), style-controlled on request
  (``style.py``), on the Elo scale, anchored if asked;
* interval: percentiles of the same fit over seeded bootstrap rounds (``bootstrap.py``), each round
  centred (or anchored) like the point fit;
* rank: 1 + the number of ranked models whose lower bound is above this model's upper bound
  (Chatbot Arena's rule); provisional models (fewer than ``min_votes`` votes) get a rank by the same
  rule but never push another model down;
* online Elo (``elo.py``) beside it, and the votes that hold the top (``robustness.py``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl

from gencommons.arena.ratings.bootstrap import bootstrap, intervals
from gencommons.arena.ratings.bradley_terry import Solver, anchored, fit_strengths, to_elo
from gencommons.arena.ratings.elo import online_elo
from gencommons.arena.ratings.robustness import Robustness, votes_to_change_top
from gencommons.arena.ratings.style import STYLE_FEATURES, style_covariates
from gencommons.arena.ratings.votes import Battles, as_polars, battles_from_votes, check_votes

# Chatbot Arena leaves models with ≤ 300 votes off its board: ranked from 301 votes
MIN_VOTES = 301


@dataclass(frozen=True)
class Leaderboard:
    """A rating table and what was used to make it.

    Attributes:
        table: one row per model, best first: rank, model, rating, lower, upper, votes, provisional,
            online_elo (null when the input had no vote order).
        robustness: the fewest votes found whose removal changes the top model, or None (not asked).
        style_coefficients: feature → logit coefficient (style control only).
    """

    table: pl.DataFrame
    robustness: Robustness | None
    style_coefficients: dict[str, float]
    votes: int
    rounds: int
    seed: int
    level: float
    min_votes: int
    anchor: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (NaN → None)."""

        def clean(v: Any) -> Any:
            return None if isinstance(v, float) and math.isnan(v) else v

        return {
            "models": [{k: clean(v) for k, v in row.items()} for row in self.table.to_dicts()],
            "robustness": None if self.robustness is None else asdict(self.robustness),
            "style_coefficients": self.style_coefficients,
            "votes": self.votes,
            "rounds": self.rounds,
            "seed": self.seed,
            "level": self.level,
            "min_votes": self.min_votes,
            "anchor": self.anchor,
        }


def ranks(lower: np.ndarray, upper: np.ndarray, *, ranked: np.ndarray | None = None) -> np.ndarray:
    """Rank = 1 + the number of (ranked) models whose lower bound exceeds this model's upper bound.

    Example:
        >>> ranks(np.array([10.0, 5.0, 0.0]), np.array([20.0, 12.0, 4.0])).tolist()
        [1, 1, 3]
    """
    above = lower[None, :] > upper[:, None]  # (model, other): other's interval entirely above
    if ranked is not None:
        above &= ranked[None, :]
    return 1 + above.sum(axis=1)


def leaderboard(
    votes: Any,
    *,
    rounds: int = 100,
    seed: int = 0,
    anchor: Mapping[str, float] | None = None,
    min_votes: int = MIN_VOTES,
    style_control: bool = False,
    features: Sequence[str] = STYLE_FEATURES,
    level: float = 0.95,
    online: bool = True,
    robustness: bool = True,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    solver: Solver = "newton",
) -> Leaderboard:
    """Rate every model of a vote table (or :class:`Battles`) with intervals and ranks.

    Args:
        votes: ``model_a``, ``model_b``, ``winner`` [, ``count``] (+ style columns, ``style.py``).
        rounds: bootstrap rounds for the intervals (0: none; then lower = upper = rating).
        anchor: model → fixed rating (Chatbot Arena: {"mixtral-8x7b-instruct-v0.1": 1114}).
        min_votes: models with fewer votes are provisional.
        style_control: fit with the style covariates ``features``.
        online: add online Elo (k = 4) over the votes in order.
        robustness: search the fewest votes whose removal changes the top model.

    Example:
        >>> board = leaderboard(read_votes("votes.csv"), rounds=100, seed=0)  # doctest: +SKIP
        >>> board.table.select("rank", "model", "rating", "lower", "upper")  # doctest: +SKIP
    """
    df: pl.DataFrame | None = None
    if isinstance(votes, Battles):
        battles = votes
    else:
        df = as_polars(votes)
        check_votes(df)
        if style_control:
            z = style_covariates(df, features=features)
            battles = battles_from_votes(df, covariates=z, features=tuple(features))
        else:
            battles = battles_from_votes(df)
    n = len(battles.models)
    anchor = dict(anchor or {})

    def elo_of(theta: np.ndarray) -> np.ndarray:
        elo = to_elo(theta[..., :n], battles.models, scale=scale, base=base, init_rating=init_rating)
        return anchored(elo, battles.models, anchor)

    theta = fit_strengths(battles, solver=solver)
    rating = elo_of(theta)
    if rounds > 0:
        draws = bootstrap(
            lambda b: fit_strengths(b, start=theta, solver=solver), battles, rounds=rounds, seed=seed
        )
        lower, upper = intervals(elo_of(draws), level=level)
    else:
        lower, upper = rating.copy(), rating.copy()
    counts = battles.votes_per_model().astype(np.int64)
    provisional = counts < min_votes
    elo: list[float | None] = [None] * n
    if online and df is not None:
        online_ratings = online_elo(df, scale=scale, base=base, init_rating=init_rating)
        elo_array = np.array([online_ratings[m] for m in battles.models])
        elo = anchored(elo_array, battles.models, anchor).tolist()
    table = pl.DataFrame(
        {
            "rank": ranks(lower, upper, ranked=~provisional),
            "model": list(battles.models),
            "rating": rating,
            "lower": lower,
            "upper": upper,
            "votes": counts,
            "provisional": provisional,
            "online_elo": pl.Series(elo, dtype=pl.Float64),
        }
    ).sort(["rating", "model"], descending=[True, False])
    return Leaderboard(
        table=table,
        robustness=votes_to_change_top(battles, solver=solver) if robustness else None,
        style_coefficients=dict(zip(battles.features, theta[n:].tolist(), strict=True)),
        votes=battles.n_votes,
        rounds=rounds,
        seed=seed,
        level=level,
        min_votes=min_votes,
        anchor=anchor,
    )
