"""The pair sampler: uniform over pairs and sides, seeded, and a clear error with too few models."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from scipy.stats import chisquare

from gencommons.arena.sampler import sample_pair
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
