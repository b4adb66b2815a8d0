"""The leaderboard page's data: the arena's anonymous-battle votes through the ratings module."""

from __future__ import annotations

from typing import Any


def leaderboard_table(
    votes: list[dict[str, Any]], *, min_votes: int, rounds: int, seed: int = 0
) -> dict[str, Any]:
    """Rows (rank, model, rating, lower, upper, votes, provisional, online Elo) and the robustness figure.

    With no votes, or votes between fewer than two models, the board is empty (nothing to rate yet).
    """
    base: dict[str, Any] = {
        "votes": len(votes),
        "rounds": rounds,
        "min_votes": min_votes,
        "rows": [],
        "robustness": None,
    }
    if len({m for v in votes for m in (v["model_a"], v["model_b"])}) < 2:
        return base
    import polars as pl

    from gencommons.arena.ratings.leaderboard import leaderboard

    board = leaderboard(pl.DataFrame(votes), rounds=rounds, seed=seed, min_votes=min_votes)
    data = board.to_dict()
    rob = data["robustness"]
    return base | {"rows": data["models"], "robustness": rob["votes"] if rob else None}
