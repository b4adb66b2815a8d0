"""Bradley–Terry maximum likelihood on the Elo scale, as Chatbot Arena defines it.

The model: side a beats side b with probability ``1 / (1 + base ** (-(R_a - R_b) / scale))``, plus
``z · beta`` inside the logit when style covariates are given (``style.py``). Ties (both kinds) count as
half a win each way, i.e. the vote's score of side a is 0.5 in the log-likelihood
``sum_cells count * (y * log p + (1 - y) * log(1 - p))``. This is the same objective as Chatbot Arena's
logistic regression without intercept and without penalty on ±1 design rows with ties duplicated as two
half-weight rows (Bradley & Terry 1952, https://doi.org/10.2307/2334029; Chiang et al. 2024,
https://arxiv.org/abs/2403.04132).

The fit works in logit units ``u`` over aggregated cells (``votes.py``): a few thousand weighted rows
however many votes there are. The default solver is Newton's method with the exact Hessian (models ×
models, assembled with ``bincount``) and a backtracking line search: it converges quadratically in
5–8 iterations; ``solver="lbfgs"`` uses scipy's L-BFGS-B with the same analytic gradient (measured in
bench/ratings.py: Newton is faster and more precise). Ratings are defined up to a constant: the fit
keeps the mean strength of the models at 0, so without an anchor the mean rating is ``init_rating``
(what scikit-learn's solution gives), and an anchor shifts every rating so that the named model(s) get
their score (with several anchors, the shift that fits them best in least squares).

A model that never loses (or never wins) has no finite maximum-likelihood rating; the solver stops where
the likelihood stops improving, far above (below) the others.

Not here: aggregation (``votes.py``), confidence intervals (``bootstrap.py``), ranks (``leaderboard.py``).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from scipy.special import expit

from gencommons.arena.ratings.votes import Battles, battles_from_votes
from gencommons.errors import ConfigError

Solver = Literal["newton", "lbfgs"]


def bradley_terry(
    votes: Any,
    *,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    anchor: Mapping[str, float] | None = None,
    solver: Solver = "newton",
) -> dict[str, float]:
    """Bradley–Terry ratings on the Elo scale from a vote table (or :class:`Battles`).

    Example:
        >>> import polars as pl
        >>> votes = pl.DataFrame({"model_a": ["x", "x", "y", "y"], "model_b": ["y", "y", "x", "x"],
        ...                       "winner": ["model_a", "tie", "model_b", "model_a"]})
        >>> {m: round(r, 1) for m, r in bradley_terry(votes).items()}  # x scores 2.5 of 4
        {'x': 1044.4, 'y': 955.6}
    """
    battles = battles_from_votes(votes)
    theta = fit_strengths(battles, solver=solver)
    elo = to_elo(
        theta[: len(battles.models)], battles.models, scale=scale, base=base, init_rating=init_rating
    )
    elo = anchored(elo, battles.models, anchor)
    return dict(zip(battles.models, elo.tolist(), strict=True))


def to_elo(
    u: np.ndarray, models: tuple[str, ...], *, scale: float, base: float, init_rating: float
) -> np.ndarray:
    """Strengths in logit units (mean 0) → ratings on the Elo scale (mean ``init_rating``)."""
    del models  # same signature as anchored(); the scale does not depend on the names
    return init_rating + u * (scale / math.log(base))


def anchored(elo: np.ndarray, models: tuple[str, ...], anchor: Mapping[str, float] | None) -> np.ndarray:
    """Shift ratings (..., models) so that the anchor models get their scores (least squares if several)."""
    if not anchor:
        return elo
    index = {m: i for i, m in enumerate(models)}
    for name in anchor:
        if name not in index:
            close = difflib.get_close_matches(name, models, n=3)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ConfigError(f"Anchor model {name!r} has no votes.{hint}")
    cols = [index[m] for m in anchor]
    target = np.array(list(anchor.values()), dtype=np.float64)
    shift = (target - elo[..., cols]).mean(axis=-1, keepdims=True)
    return elo + shift


def fit_strengths(
    battles: Battles,
    *,
    start: np.ndarray | None = None,
    solver: Solver = "newton",
    max_iter: int = 200,
) -> np.ndarray:
    """Maximum-likelihood parameters (models + covariates,) in logit units.

    The model part has mean 0 over the models with votes; models without a vote in ``battles`` (a
    bootstrap draw, votes removed) get NaN.

    Args:
        start: initial parameters (a previous fit: warm start), NaN allowed.
        solver: "newton" (exact Hessian, line search) or "lbfgs" (scipy).
        max_iter: iteration limit.
    """
    n, k = len(battles.models), 0 if battles.z is None else battles.z.shape[1]
    present = battles.votes_per_model() > 0
    theta = np.zeros(n + k) if start is None else np.nan_to_num(np.asarray(start, dtype=np.float64))
    if solver == "newton":
        theta = _newton(battles, theta, present, max_iter)
    elif solver == "lbfgs":
        theta = _lbfgs(battles, theta, max_iter)
    else:
        raise ConfigError(f"Unknown solver {solver!r}. Available: newton, lbfgs.")
    u = theta[:n]
    u -= u[present].mean()
    u[~present] = np.nan
    return theta


def logits(battles: Battles, theta: np.ndarray) -> np.ndarray:
    n = len(battles.models)
    s = theta[battles.a] - theta[battles.b]
    if battles.z is not None:
        s = s + battles.z @ theta[n:]
    return s


def _loss(battles: Battles, theta: np.ndarray) -> float:
    """Negative log-likelihood: sum of count * (log(1 + e^s) - y s)."""
    s = logits(battles, theta)
    return float(battles.count @ (np.logaddexp(0.0, s) - battles.y * s))


def _gradient(battles: Battles, theta: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Gradient from r = count * (p - y), the derivative of the loss per cell logit."""
    n = len(battles.models)
    g_u = np.bincount(battles.a, r, n) - np.bincount(battles.b, r, n)
    if battles.z is None:
        return g_u
    return np.concatenate([g_u, battles.z.T @ r])


def loss_and_gradient(battles: Battles, theta: np.ndarray) -> tuple[float, np.ndarray]:
    s = logits(battles, theta)
    loss = float(battles.count @ (np.logaddexp(0.0, s) - battles.y * s))
    return loss, _gradient(battles, theta, battles.count * (expit(s) - battles.y))


def hessian(battles: Battles, theta: np.ndarray) -> np.ndarray:
    """(params, params) Hessian of the loss; singular along the constant shift of all strengths."""
    n, a, b = len(battles.models), battles.a, battles.b
    p = expit(logits(battles, theta))
    h = battles.count * p * (1.0 - p)
    k = 0 if battles.z is None else battles.z.shape[1]
    H = np.zeros((n + k, n + k))
    off = np.bincount(a * n + b, h, n * n).reshape(n, n)
    H[:n, :n] = -(off + off.T)
    H[np.arange(n), np.arange(n)] += np.bincount(a, h, n) + np.bincount(b, h, n)
    if battles.z is not None:
        hz = h[:, None] * battles.z  # (cells, k)
        cross = np.stack([np.bincount(a, hz[:, j], n) - np.bincount(b, hz[:, j], n) for j in range(k)], 1)
        H[:n, n:], H[n:, :n] = cross, cross.T
        H[n:, n:] = battles.z.T @ hz
    return H


def solve_gauged(H: np.ndarray, rhs: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Solve H x = rhs where H is singular along the shift of the present models' strengths.

    Adding the projector on that shift (and 1 on the diagonal of absent models) makes the system
    positive definite without changing the solution for a right-hand side that sums to 0 over the
    models (every gradient does); a tiny ridge covers comparison graphs in several pieces.
    """
    n = len(present)
    M = H.copy()
    ones = present.astype(np.float64)
    M[:n, :n] += np.outer(ones, ones)
    M[np.arange(n), np.arange(n)] += ~present
    M[np.diag_indices_from(M)] += 1e-12 * max(1.0, float(np.abs(np.diag(M)).max()))
    try:
        return np.linalg.solve(M, rhs)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(M, rhs, rcond=None)[0]


def _newton(battles: Battles, theta: np.ndarray, present: np.ndarray, max_iter: int) -> np.ndarray:
    for _ in range(max_iter):
        loss, g = loss_and_gradient(battles, theta)
        step = solve_gauged(hessian(battles, theta), -g, present)
        decrement = -float(g @ step)  # Newton decrement²: twice the predicted decrease of the loss
        t = 1.0
        # backtracking (Armijo): far from the optimum a full step can overshoot; near it the loss
        # changes by less than its rounding error, so the full (quadratically converging) step is taken
        while (
            decrement > 1e-10 * max(loss, 1.0)
            and t > 1e-8
            and _loss(battles, theta + t * step) > loss - 1e-4 * t * decrement
        ):
            t /= 2
        theta = theta + t * step
        # stop when the next step would move nothing measurable, or gain nothing (a model without
        # losses drifts up forever, gaining less and less)
        if np.abs(t * step).max() < 1e-10 or decrement < 1e-16 * max(loss, 1.0):
            break
    return theta


def _lbfgs(battles: Battles, theta: np.ndarray, max_iter: int) -> np.ndarray:
    from scipy.optimize import minimize

    scale = max(float(battles.count.sum()), 1.0)  # per-vote loss: tolerances independent of N

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        loss, g = loss_and_gradient(battles, x)
        return loss / scale, g / scale

    res = minimize(
        fun,
        theta,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max(max_iter, 1000), "gtol": 1e-10, "ftol": 1e-15},
    )
    return np.asarray(res.x, dtype=np.float64)
