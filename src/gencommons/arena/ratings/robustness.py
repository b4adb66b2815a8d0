"""How many votes hold the top of the board: the fewest removals that change the top-ranked model.

The exact answer is a combinatorial search; this module finds an **upper bound** greedily, guided by
influence functions, and **verifies it by refitting** (Huang, Shen, Wei & Broderick 2025, "Dropping just
a handful of preferences can change top large language model rankings",
https://arxiv.org/abs/2508.11847, use the same first-order approximation):

1. Fit; T is the top model. For each rival R (the ``rivals`` models predicted cheapest to lift above T),
   repeat until T is no longer alone on top:
   * linearize: removing one vote of cell c moves the gap ``u_T - u_R`` by ``(p_c - y_c) · vᵀx_c`` with
     ``v = H⁻¹(e_T - e_R)`` (H the Hessian of the negative log-likelihood, x_c the cell's design row);
   * remove, most effective first, the votes whose predicted effects add up to the remaining gap, then
     refit with a warm start.
2. Binary search over that removal order for the shortest prefix after whose removal a refit puts
   another model level with or above T (rating of T − best other ≤ 1e-9 logits).
3. The answer is the smallest verified count over the rivals.

Guarantee: removing the reported votes and refitting does change the top model (checked by a refit);
the true minimum can only be smaller or equal. On small cases the tests compare it with brute force.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit

from gencommons.arena.ratings.bradley_terry import Solver, fit_strengths, hessian, logits, solve_gauged
from gencommons.arena.ratings.votes import Battles

_TIE = 1e-9  # logits: a gap this small counts as a tie at the top
_EXACT_BELOW = 20  # when the plan needs fewer votes, choose them one at a time by refitting
_CANDIDATES = 12  # cells tried per vote then, the most effective by the linear prediction


@dataclass(frozen=True)
class Robustness:
    """The smallest number of votes found whose removal changes the top model (an upper bound).

    Attributes:
        top: the top model on all votes.
        votes: how many removed votes change it (None: no change found within the limits).
        fraction: ``votes`` over all votes.
        new_top: the model on top (or level with ``top``) after the removal.
        removed: the removed votes, as ``{"model_a", "model_b", "winner", "count"}`` rows.
    """

    top: str
    votes: int | None
    fraction: float | None
    new_top: str | None
    removed: list[dict[str, object]] = field(default_factory=list)
    method: str = "greedy by influence, verified by refit: an upper bound on the minimum"


def top_changed(theta: np.ndarray, top: int, n: int) -> int | None:
    """The model that reaches or passes ``top`` in strengths ``theta`` (NaN: no votes), else None."""
    u = theta[:n]
    if np.isnan(u[top]):
        if np.isnan(u).all():  # no votes left at all (e.g. the only vote removed): no model on top
            return None
        return int(np.nanargmax(u))
    others = u.copy()
    others[top] = -np.inf
    best = int(np.nanargmax(others))
    return best if u[top] - others[best] <= _TIE else None


def votes_to_change_top(
    battles: Battles, *, rivals: int = 5, max_steps: int = 30, solver: Solver = "newton"
) -> Robustness:
    """Find (an upper bound on) the fewest votes whose removal changes the top model."""
    n = len(battles.models)
    theta = fit_strengths(battles, solver=solver)
    top = int(np.nanargmax(theta[:n]))
    if n < 2:
        return Robustness(battles.models[top], None, None, None)
    level = top_changed(theta, top, n)
    if level is not None:  # already level at the top: no vote holds it
        return Robustness(battles.models[top], 0, 0.0, battles.models[level])
    best: tuple[int, np.ndarray, int] | None = None
    for rival in _cheapest_rivals(battles, theta, top, rivals):
        found = _remove_until_changed(battles, theta, top, rival, max_steps, solver)
        if found is not None and (best is None or found[1].sum() < best[1].sum()):
            best = (rival, found[1], found[0])
    if best is None:
        return Robustness(battles.models[top], None, None, None)
    _, removed, new_top = best
    k = int(removed.sum())
    return Robustness(
        top=battles.models[top],
        votes=k,
        fraction=k / battles.n_votes,
        new_top=battles.models[new_top],
        removed=_describe(battles, removed),
    )


def _effects(battles: Battles, theta: np.ndarray, top: int, rival: np.ndarray) -> np.ndarray:
    """(rivals, cells) first-order change of u_top - u_rival when one vote of a cell is removed."""
    n = len(battles.models)
    present = battles.votes_per_model() > 0
    E = np.zeros((len(theta), len(rival)))
    E[top, :] = 1.0
    E[rival, np.arange(len(rival))] = -1.0
    V = solve_gauged(hessian(battles, np.nan_to_num(theta)), E, present)  # (params, rivals)
    xv = V[battles.a] - V[battles.b]  # (cells, rivals): design row · v
    if battles.z is not None:
        xv = xv + battles.z @ V[n:]
    residual = expit(logits(battles, np.nan_to_num(theta))) - battles.y
    return (residual[:, None] * xv).T


def _plan(effect: np.ndarray, available: np.ndarray, gap: float) -> np.ndarray:
    """Votes to remove per cell, most effective first, until the predicted effects close ``gap``."""
    order = np.argsort(effect)
    order = order[(effect[order] < 0) & (available[order] > 0)]
    take = np.zeros_like(available)
    if len(order) == 0:
        return take
    gain = -effect[order] * available[order]
    upto = int(np.searchsorted(np.cumsum(gain), gap)) + 1  # cells emptied whole, the last one partly
    for j, cell in enumerate(order[:upto]):
        need = available[cell] if j < upto - 1 else int(np.ceil((gap - gain[:j].sum()) / -effect[cell]))
        take[cell] = max(1, min(available[cell], need))
    return take


def _cheapest_rivals(battles: Battles, theta: np.ndarray, top: int, count: int) -> list[int]:
    """The rivals whose gap to the top the linear prediction closes with the fewest votes."""
    n = len(battles.models)
    candidates = np.array([m for m in range(n) if m != top and not np.isnan(theta[m])])
    effects = _effects(battles, theta, top, candidates)
    predicted = [
        _plan(effects[i], battles.count, theta[top] - theta[r]).sum() or np.inf
        for i, r in enumerate(candidates)
    ]
    return [int(candidates[i]) for i in np.argsort(predicted, kind="stable")[:count]]


def _margin(theta: np.ndarray, top: int, n: int) -> float:
    """Strength of ``top`` minus the best other model's (−inf when ``top`` has no votes left)."""
    u = theta[:n]
    if np.isnan(u[top]):
        return -np.inf
    return float(u[top] - np.nanmax(np.delete(u, top)))


def _best_single_removal(
    battles: Battles, count: np.ndarray, effect: np.ndarray, theta: np.ndarray, top: int, solver: Solver
) -> np.ndarray:
    """One vote from the cell whose removal, refitted, shrinks the top's margin most (of the
    ``_CANDIDATES`` cells predicted best)."""
    n = len(battles.models)
    order = np.argsort(effect)
    order = order[count[order] > 0][:_CANDIDATES]
    margins = []
    for cell in order:
        trial = count.copy()
        trial[cell] -= 1
        margins.append(_margin(fit_strengths(battles.with_counts(trial), start=theta, solver=solver), top, n))
    take = np.zeros_like(count)
    take[order[int(np.argmin(margins))]] = 1
    return take


def _remove_until_changed(
    battles: Battles, theta: np.ndarray, top: int, rival: int, max_steps: int, solver: Solver
) -> tuple[int, np.ndarray] | None:
    """(new top, removed votes per cell) of the shortest verified removal against one rival."""
    n = len(battles.models)
    count = battles.count.copy()
    steps: list[np.ndarray] = []  # removals per cell, in the order chosen
    current = theta
    for _ in range(max_steps):
        if top_changed(current, top, n) is not None:
            break
        effect = _effects(battles.with_counts(count), current, top, np.array([rival]))[0]
        take = _plan(effect, count, current[top] - current[rival])
        if not take.any():
            return None
        if take.sum() <= _EXACT_BELOW:  # few votes left to find: the linear guess is rough, refit each
            take = _best_single_removal(battles, count, effect, current, top, solver)
        steps.append(take)
        count = count - take
        current = fit_strengths(battles.with_counts(count), start=current, solver=solver)
    else:
        return None
    if top_changed(current, top, n) is None:
        return None
    # the removal order, one vote at a time: the cells of each step, most effective first
    sequence = np.concatenate([np.repeat(np.flatnonzero(s), s[s > 0]) for s in steps])

    def changed_after(m: int) -> int | None:
        removed = np.bincount(sequence[:m], minlength=len(count))
        fit = fit_strengths(battles.with_counts(battles.count - removed), start=theta, solver=solver)
        return top_changed(fit, top, n)

    lo, hi = 0, len(sequence)  # not changed after lo removals; changed after hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if changed_after(mid) is None:
            lo = mid
        else:
            hi = mid
    new_top = changed_after(hi)
    assert new_top is not None
    return new_top, np.bincount(sequence[:hi], minlength=len(count))


def _describe(battles: Battles, removed: np.ndarray) -> list[dict[str, object]]:
    """Removed votes per (model_a, model_b, winner), most first."""
    rows: dict[tuple[str, str, str], int] = {}
    winner = {1.0: "model_a", 0.5: "tie", 0.0: "model_b"}
    for cell in np.flatnonzero(removed):
        key = (
            battles.models[battles.a[cell]],
            battles.models[battles.b[cell]],
            winner[float(battles.y[cell])],
        )
        rows[key] = rows.get(key, 0) + int(removed[cell])
    return [
        {"model_a": a, "model_b": b, "winner": w, "count": c}
        for (a, b, w), c in sorted(rows.items(), key=lambda kv: -kv[1])
    ]
