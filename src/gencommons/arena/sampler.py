"""Which two models meet in a battle.

``sample_pair(active, rng)``: uniform over unordered pairs of active models, sides shuffled — every pair
and every side equally likely, so no model is favoured by position. (Informative sampling, which
prefers pairs whose comparison teaches the leaderboard most, is a later step and plugs in here.)
"""

from __future__ import annotations

import random

from gencommons.arena.store import ArenaError


def sample_pair(active: list[str], rng: random.Random) -> tuple[str, str]:
    if len(active) < 2:
        raise ArenaError("The arena needs at least two active models for a battle (ask the admin).", 503)
    a, b = rng.sample(sorted(active), 2)
    return a, b
