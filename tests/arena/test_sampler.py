"""Pair samplers: uniform (seeded, fair over pairs and sides) and informative (fewer votes to the same
interval width in a seeded simulation with known strengths)."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest
from scipy.stats import chisquare

from gencommons.arena.sampler import InformativeSampler, interval_width, sample_pair, simulate, votes_to_reach
from gencommons.arena.store import ArenaError


def test_uniform_over_ordered_pairs() -> None:
    models = ["a", "b", "c", "d"]
    rng = random.Random(0)
    counts = Counter(sample_pair(models, rng) for _ in range(12_000))
    assert len(counts) == 12  # every ordered pair occurs
    assert all(a != b for a, b in counts)
    assert chisquare(list(counts.values())).pvalue > 0.001


def test_seeded_and_order_independent() -> None:
    a = [sample_pair(["x", "y", "z"], random.Random(5)) for _ in range(3)]
    b = [sample_pair(["z", "y", "x"], random.Random(5)) for _ in range(3)]
    assert a == b


def test_needs_two_models() -> None:
    with pytest.raises(ArenaError, match="at least two active models"):
        sample_pair(["only"], random.Random(0))
    with pytest.raises(ArenaError, match="at least two active models"):
        InformativeSampler(["a", "b"]).pick(random.Random(0), ["a"])


def test_informative_prefers_unseen_and_close_pairs() -> None:
    s = InformativeSampler(["a", "b", "c"], epsilon=0.0)
    for _ in range(50):
        s.update("a", "b")
    rng = random.Random(0)
    picks = Counter(frozenset(s.pick(rng)) for _ in range(20))
    assert frozenset("ab") not in picks  # the pair with 50 votes is not asked again first
    s.refit([(0, 1, 1.0)] * 25 + [(0, 1, 0.0)] * 25 + [(0, 2, 1.0)] * 40 + [(1, 2, 0.5)] * 40)
    g = s.gains()
    assert g[0, 1] < g[1, 2]  # a-b: close but already well known


def test_update_matches_a_fresh_inverse() -> None:
    """The Sherman–Morrison update equals inverting the information matrix again."""
    s = InformativeSampler(["a", "b", "c", "d"], prior=0.1)
    pairs = [("a", "b"), ("c", "d"), ("a", "c"), ("b", "d"), ("a", "b")]
    info = np.zeros((4, 4))
    for a, b in pairs:
        s.update(a, b)
        i, j = s.index[a], s.index[b]
        x = np.zeros(4)
        x[i], x[j] = 1, -1
        info += 0.25 * np.outer(x, x)  # theta = 0: p = 1/2
    np.testing.assert_allclose(s.cov, np.linalg.inv(info + 0.1 * np.eye(4)), atol=1e-10)


@pytest.mark.slow
def test_informative_needs_fewer_votes_than_uniform() -> None:
    """12 models with strengths spread like a real arena's (sd 300 Elo); over five seeded arenas, the
    votes until the mean 95% interval is 80 Elo points wide (within 100 votes)."""
    rng = np.random.default_rng(0)
    strengths = {f"m{i:02d}": float(x) for i, x in enumerate(rng.normal(1000, 300, 12))}
    need = {"uniform": [], "informative": []}
    for seed in range(1, 6):
        for sampler, runs in need.items():
            curve = simulate(strengths, sampler=sampler, votes=3000, seed=seed, check_every=100)
            n = votes_to_reach(curve, 80.0)
            assert n is not None
            runs.append(n)
    ratio = sum(need["informative"]) / sum(need["uniform"])
    assert ratio < 0.95, need
    assert all(i <= u for i, u in zip(need["informative"], need["uniform"], strict=True)), need


def test_interval_width_shrinks_like_one_over_sqrt_n() -> None:
    rng = random.Random(0)
    votes = [(i % 3, (i + 1) % 3, float(rng.random() < 0.5)) for i in range(3000)]
    w1, w4 = interval_width(votes[:750], 3), interval_width(votes, 3)
    assert w4 == pytest.approx(w1 / 2, rel=0.1)
    assert interval_width([(0, 1, 1.0)], 3) == float("inf")
