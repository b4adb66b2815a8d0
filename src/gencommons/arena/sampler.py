"""Which two models meet in a battle.

* ``sample_pair(active, rng)``: uniform over unordered pairs of active models, sides shuffled.
* ``InformativeSampler``: the pair whose next vote shrinks the leaderboard's confidence intervals most
  (close ratings, few votes — see the class), with ``epsilon`` of uniform sampling so that every pair
  keeps being compared. The arena keeps one per language (votes of the prompt's language), so
  under-covered languages get the pairs they lack.

Both are deterministic for a seeded ``random.Random``. ``simulate`` replays a whole arena with known
strengths to compare the two (the tests and the issue note use it).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping

import numpy as np

from gencommons.arena.store import ArenaError


def sample_pair(active: list[str], rng: random.Random) -> tuple[str, str]:
    if len(active) < 2:
        raise ArenaError("The arena needs at least two active models for a battle (ask the admin).", 503)
    a, b = rng.sample(sorted(active), 2)
    return a, b


class InformativeSampler:
    """Picks the pair whose next vote shrinks the leaderboard's intervals most (A-optimal design).

    State: Bradley–Terry strengths ``theta`` (logit units) and the posterior covariance ``C = (H + λI)⁻¹``
    of the strengths, ``H`` the Fisher information of the votes so far and ``λ`` a weak prior (a model
    without votes has variance ``1/λ``: it is asked first). One vote on (i, j), with ``x = e_i − e_j``
    and ``h = p(1 − p)``, lowers the summed variance ``trace C`` by ``h‖Cx‖² / (1 + h xᵀCx)``: large for
    close ratings (``h``) and for pairs with few votes (large ``C``). The sampler takes the best pair
    with probability ``1 − epsilon`` and a uniform one otherwise (every pair keeps being compared), and
    updates ``C`` after each vote by Sherman–Morrison; ``refit`` re-estimates ``theta`` from the votes.
    """

    def __init__(self, models: list[str], *, prior: float = 0.05, epsilon: float = 0.1):
        self.models = sorted(models)
        self.index = {m: i for i, m in enumerate(self.models)}
        n = len(self.models)
        self.theta: np.ndarray = np.zeros(n)
        self.prior = prior
        self.cov: np.ndarray = np.eye(n) / prior
        self.epsilon = epsilon

    def gains(self) -> np.ndarray:
        """(n, n) reduction of trace C for one more vote on each pair (upper triangle)."""
        from scipy.special import expit

        p = expit(self.theta[:, None] - self.theta[None, :])
        h = p * (1 - p)
        c = self.cov
        d = np.diag(c)
        quad = d[:, None] + d[None, :] - 2 * c  # xᵀCx
        # ‖Cx‖² = ‖C_i − C_j‖² = (C²)_ii + (C²)_jj − 2(C²)_ij
        c2 = c @ c
        d2 = np.diag(c2)
        norm2 = d2[:, None] + d2[None, :] - 2 * c2
        g = h * norm2 / (1 + h * quad)
        return np.triu(g, 1)

    def pick(self, rng: random.Random, active: list[str] | None = None) -> tuple[str, str]:
        names = sorted(active) if active is not None else self.models
        if len(names) < 2:
            raise ArenaError("The arena needs at least two active models for a battle (ask the admin).", 503)
        if rng.random() < self.epsilon or any(m not in self.index for m in names):
            return sample_pair(names, rng)
        idx = np.array([self.index[m] for m in names])
        g = self.gains()[np.ix_(idx, idx)]
        g = np.triu(g, 1)
        best = np.flatnonzero(g == g.max())
        k = best[rng.randrange(len(best))]
        i, j = idx[k // len(idx)], idx[k % len(idx)]
        a, b = self.models[i], self.models[j]
        return (a, b) if rng.random() < 0.5 else (b, a)

    def update(self, a: str, b: str) -> None:
        """One more vote on (a, b): rank-one update of the covariance."""
        from scipy.special import expit

        i, j = self.index[a], self.index[b]
        p = float(expit(self.theta[i] - self.theta[j]))
        h = p * (1 - p)
        cx = self.cov[:, i] - self.cov[:, j]
        q = cx[i] - cx[j]
        self.cov = self.cov - h * np.outer(cx, cx) / (1 + h * q)

    def refit(self, votes: list[tuple[int, int, float]]) -> None:
        """Re-estimate the strengths and the covariance from all ``(i, j, score_i)`` votes."""
        self.theta, info = _fit(votes, len(self.models))
        self.cov = np.linalg.inv(info + self.prior * np.eye(len(self.models)))


def _fit(votes: list[tuple[int, int, float]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Bradley–Terry strengths (mean 0, logit units) and the Fisher information of ``(i, j, y)`` votes."""
    from scipy.special import expit

    a = np.array([v[0] for v in votes], dtype=np.int64)
    b = np.array([v[1] for v in votes], dtype=np.int64)
    y = np.array([v[2] for v in votes])
    theta = np.zeros(n)
    info = np.zeros((n, n))
    for _ in range(50):
        p = expit(theta[a] - theta[b])
        g = np.bincount(a, y - p, n) - np.bincount(b, y - p, n)
        h = p * (1 - p)
        info = np.zeros((n, n))
        np.add.at(info, (a, b), -h)
        np.add.at(info, (b, a), -h)
        info[np.arange(n), np.arange(n)] += np.bincount(a, h, n) + np.bincount(b, h, n)
        step = np.linalg.pinv(info + 1e-9 * np.eye(n)) @ g
        theta = np.clip(theta + step, -15, 15)
        theta -= theta.mean()
        if np.abs(step).max() < 1e-8:
            break
    return theta, info


def interval_width(votes: list[tuple[int, int, float]], n_models: int) -> float:
    """Mean 95% interval width (Elo points) over models, from the Fisher information of the Bradley–Terry
    fit of ``(i, j, score_i)`` votes (the normal approximation of the bootstrap intervals); inf while
    some model has no vote."""
    a = [v[0] for v in votes] + [v[1] for v in votes]
    if len(set(a)) < n_models:
        return math.inf
    _, info = _fit(votes, n_models)
    se = np.sqrt(np.clip(np.diag(np.linalg.pinv(info)), 0, None)) * 400.0 / math.log(10.0)
    return float(np.mean(2 * 1.96 * se))


def simulate(
    strengths: Mapping[str, float],
    *,
    sampler: str,
    votes: int,
    seed: int = 0,
    check_every: int = 100,
    refit_every: int = 50,
) -> list[tuple[int, float]]:
    """Run an arena with known Elo-scale ``strengths``: each battle's pair comes from ``sampler``
    (``uniform`` or ``informative``, the latter refitting its strengths every ``refit_every`` votes), the
    vote from Bradley–Terry. Returns ``(votes, mean 95% interval width)`` every ``check_every`` votes."""
    rng = random.Random(seed)
    models = sorted(strengths)
    index = {m: i for i, m in enumerate(models)}
    informative = InformativeSampler(models)
    history: list[tuple[int, int, float]] = []
    out = []
    for n in range(1, votes + 1):
        a, b = sample_pair(models, rng) if sampler == "uniform" else informative.pick(rng)
        p = 1.0 / (1.0 + 10.0 ** (-(strengths[a] - strengths[b]) / 400.0))
        history.append((index[a], index[b], 1.0 if rng.random() < p else 0.0))
        if sampler != "uniform":
            informative.update(a, b)
            if n % refit_every == 0:
                informative.refit(history)
        if n % check_every == 0:
            out.append((n, interval_width(history, len(models))))
    return out


def votes_to_reach(curve: list[tuple[int, float]], width: float) -> int | None:
    """The first vote count at which the mean interval width is at most ``width``."""
    return next((n for n, w in curve if w <= width), None)
