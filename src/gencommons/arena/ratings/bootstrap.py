"""Bootstrap confidence intervals for any rating method over aggregated battles.

Resampling N votes with replacement from N votes gives cell counts drawn from a multinomial with the
observed proportions, so each round draws the counts of the cells (``votes.py``) in one call instead
of resampling rows: the same distribution as Chatbot Arena's row bootstrap, at the cost of the cells
(thousands) rather than the votes (millions). Rounds are seeded, so a leaderboard is reproducible.

Not here: the fits themselves (``bradley_terry.py``), ranks from the intervals (``leaderboard.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gencommons.arena.ratings.votes import Battles


def bootstrap(
    method: Callable[[Battles], np.ndarray], battles: Battles, *, rounds: int = 100, seed: int = 0
) -> np.ndarray:
    """(rounds, ...) results of ``method`` on ``rounds`` multinomial resamples of the votes.

    Example:
        >>> from gencommons.arena.ratings.bradley_terry import fit_strengths
        >>> draws = bootstrap(fit_strengths, battles, rounds=100, seed=0)  # doctest: +SKIP
        >>> lower, upper = np.nanquantile(draws, [0.025, 0.975], axis=0)  # doctest: +SKIP
    """
    rng = np.random.default_rng(seed)
    total = battles.n_votes
    p = battles.count / total
    return np.stack([method(battles.with_counts(rng.multinomial(total, p))) for _ in range(rounds)])


def intervals(draws: np.ndarray, *, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile intervals (lower, upper) over the rounds (axis 0); NaN rounds are left out."""
    tail = (1.0 - level) / 2
    lower, upper = np.nanquantile(draws, [tail, 1.0 - tail], axis=0)
    return lower, upper
