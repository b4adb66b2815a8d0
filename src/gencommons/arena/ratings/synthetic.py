"""Synthetic votes from known strengths, in Chatbot Arena's shape: for tests, benchmarks and planning.

Strengths are drawn on the Elo scale (normal, ``spread`` points of standard deviation around 1000).
Pairs are drawn non-uniformly, as in a real arena where popular and new models are shown more: each
model gets a log-normal popularity and a pair is drawn with probability proportional to the product of
its two popularities. Outcomes follow Bradley–Terry with ties: with ``p`` the Bradley–Terry probability
that side a wins, a tie has probability ``4 τ p (1 - p)`` and each win loses half of it, so the expected
score of side a is exactly ``p`` and the half-win Bradley–Terry fit is well specified (τ is set so that
about ``tie_rate`` of the votes are ties; half of those are ``tie (bothbad)``).
"""

from __future__ import annotations

import numpy as np
import polars as pl


def synthetic_votes(
    n_models: int,
    n_votes: int,
    *,
    seed: int = 0,
    spread: float = 100.0,
    tie_rate: float = 0.1,
    popularity: float = 1.0,
) -> tuple[pl.DataFrame, dict[str, float]]:
    """(votes, true ratings): a vote table and the Elo-scale strengths (mean 1000) it was drawn from.

    Example:
        >>> votes, truth = synthetic_votes(5, 1000, seed=0)
        >>> votes.columns, len(truth)
        (['model_a', 'model_b', 'winner'], 5)
    """
    rng = np.random.default_rng(seed)
    names = [f"model-{i:03d}" for i in range(n_models)]
    elo = rng.normal(0.0, spread, n_models)
    elo = 1000.0 + elo - elo.mean()
    weight = rng.lognormal(0.0, popularity, n_models)
    weight /= weight.sum()
    a = rng.choice(n_models, n_votes, p=weight)
    b = rng.choice(n_models, n_votes, p=weight)
    while (clash := a == b).any():  # never a model against itself: redraw those opponents
        b[clash] = rng.choice(n_models, int(clash.sum()), p=weight)
    p = 1.0 / (1.0 + 10.0 ** (-(elo[a] - elo[b]) / 400.0))
    tau = min(tie_rate, 0.5)
    tie = 4.0 * tau * p * (1.0 - p)
    r = rng.random(n_votes)
    winner = np.where(
        r < p - tie / 2,
        "model_a",
        np.where(r < p + tie / 2, np.where(r < p, "tie", "tie (bothbad)"), "model_b"),
    )
    votes = pl.DataFrame(
        {
            "model_a": pl.Series(np.array(names)[a]),
            "model_b": pl.Series(np.array(names)[b]),
            "winner": pl.Series(winner),
        }
    )
    return votes, dict(zip(names, elo.tolist(), strict=True))
