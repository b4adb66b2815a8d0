"""The leaderboard page's data: the ratings module over the arena's votes, empty when nothing to rate."""

from __future__ import annotations

import random

from gencommons.arena.board import leaderboard_table
from gencommons.arena.ratings.bradley_terry import bradley_terry


def _votes(n: int, seed: int = 0) -> list[dict[str, str]]:
    rng = random.Random(seed)
    strength = {"strong": 0.8, "mid": 0.5, "weak": 0.2}
    out = []
    for _ in range(n):
        a, b = rng.sample(sorted(strength), 2)
        p = strength[a] / (strength[a] + strength[b])
        out.append({"model_a": a, "model_b": b, "winner": "model_a" if rng.random() < p else "model_b"})
    return out


def test_rows_follow_the_ratings_module() -> None:
    votes = _votes(600)
    board = leaderboard_table(votes, min_votes=30, rounds=20)
    assert [r["model"] for r in board["rows"]] == ["strong", "mid", "weak"]
    point = bradley_terry(__import__("polars").DataFrame(votes))
    for r in board["rows"]:
        assert abs(r["rating"] - point[r["model"]]) < 1e-6
        assert r["lower"] <= r["rating"] <= r["upper"]
        assert r["provisional"] is False
    assert board["rows"][0]["rank"] == 1
    assert board["votes"] == 600
    assert isinstance(board["robustness"], int)


def test_empty_and_provisional() -> None:
    assert leaderboard_table([], min_votes=30, rounds=10)["rows"] == []
    few = _votes(20)
    board = leaderboard_table(few, min_votes=30, rounds=10)
    assert all(r["provisional"] for r in board["rows"])
