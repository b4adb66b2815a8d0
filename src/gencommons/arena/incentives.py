"""What keeps people voting, and feedback that costs one click.

* ``voter_summary``: a voter's vote count, streak (consecutive days with at least one vote, ending today
  or yesterday) and how their votes moved the leaderboard: the Bradley–Terry rating of each model with
  all votes minus without theirs (point fits, no bootstrap).
* ``contributors``: the opt-in board — voters who chose a public name, with their vote counts.
* ``thumbs_votes``: in single-model chat an answer gets a thumbs up (+1) or down (−1). Two models that
  answered the same prompt (same text after lower-casing and collapsing white space, the first turn of
  a chat) give pairwise evidence: up vs down is a win for the up one, up vs up or down vs down a tie
  (``tie (bothbad)`` for two downs) — Chatbot Arena's vote vocabulary, so the ratings module takes them
  as they are. Each pair of thumbs is used once (chats are paired in time order per prompt); these votes
  are shown as their own board, never mixed into the blind battles' one.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gencommons.arena import store
from gencommons.arena.db import Battle, Turn, User, Vote


def streak(days: set[dt.date], today: dt.date) -> int:
    """Consecutive voting days ending today (or yesterday: the streak is not lost before the day ends)."""
    day = today if today in days else today - dt.timedelta(days=1)
    n = 0
    while day in days:
        n += 1
        day -= dt.timedelta(days=1)
    return n


def voter_summary(s: Session, user_id: str, *, today: dt.date | None = None) -> dict[str, Any]:
    import polars as pl

    from gencommons.arena.ratings.bradley_terry import bradley_terry

    mine = s.execute(select(Vote.created_at).where(Vote.user_id == user_id)).scalars().all()
    days = {store.as_utc(t).date() for t in mine}
    q = (
        select(Battle.model_a, Battle.model_b, Vote.winner, Vote.user_id)
        .join(Vote, Vote.battle_id == Battle.id)
        .where(Battle.mode == "battle", Vote.excluded.is_(False))
    )
    rows = [{"model_a": a, "model_b": b, "winner": w, "user": u} for a, b, w, u in s.execute(q).all()]
    moved: dict[str, float] = {}
    others = [r for r in rows if r["user"] != user_id]
    if len(others) < len(rows) and len({m for r in others for m in (r["model_a"], r["model_b"])}) >= 2:
        cols = ("model_a", "model_b", "winner")
        with_me = bradley_terry(pl.DataFrame([{k: r[k] for k in cols} for r in rows]))
        without = bradley_terry(pl.DataFrame([{k: r[k] for k in cols} for r in others]))
        moved = {m: with_me[m] - without.get(m, with_me[m]) for m in with_me}
    return {
        "votes": len(mine),
        "streak": streak(days, today or dt.datetime.now(dt.UTC).date()),
        "moved": dict(sorted(moved.items(), key=lambda kv: -abs(kv[1]))),
    }


def contributors(s: Session, *, limit: int = 50) -> list[tuple[str, int]]:
    q = (
        select(User.display_name, func.count(Vote.id))
        .join(Vote, Vote.user_id == User.id)
        .where(User.display_name.is_not(None))
        .group_by(User.id, User.display_name)
        .order_by(func.count(Vote.id).desc())
        .limit(limit)
    )
    return [(str(name), int(n)) for name, n in s.execute(q).all()]


def set_display_name(s: Session, user_id: str, name: str) -> None:
    name = store.storable(re.sub(r"\s+", " ", name).strip())
    if len(name) > 40:
        raise store.ArenaError("A public name has at most 40 characters.")
    user = s.get(User, user_id)
    if user is None:
        raise store.ArenaError("No such user.", 404)
    user.display_name = name or None  # an empty name leaves the board
    s.commit()


def set_thumbs(s: Session, battle: Battle, value: int) -> None:
    if battle.mode != "single":
        raise store.ArenaError("Thumbs are for single-model chats; battles have a vote.")
    if value not in (1, -1):
        raise store.ArenaError("thumbs must be +1 or -1.")
    turns = store.turns_of(s, battle.id)
    if not turns or turns[-1].state_a != "done":
        raise store.ArenaError("Wait for the answer first.", 409)
    turns[-1].thumbs_a = value
    s.commit()


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def thumbs_votes(s: Session) -> list[dict[str, str]]:
    """Pairwise votes from thumbs on single-model answers to the same prompt (see the module docstring)."""
    q = (
        select(Turn.prompt, Turn.thumbs_a, Battle.model_a, Turn.created_at)
        .join(Battle, Battle.id == Turn.battle_id)
        .where(Battle.mode == "single", Turn.idx == 0, Turn.thumbs_a.is_not(None))
        .order_by(Turn.created_at)
    )
    by_prompt: dict[str, list[tuple[str, int]]] = {}
    for prompt, thumbs, model, _ in s.execute(q).all():
        by_prompt.setdefault(_norm(prompt), []).append((model, int(thumbs or 0)))
    votes = []
    for rated in by_prompt.values():
        used = [False] * len(rated)
        for i, (ma, ta) in enumerate(rated):
            if used[i]:
                continue
            for j in range(i + 1, len(rated)):
                mb, tb = rated[j]
                if used[j] or mb == ma:
                    continue
                used[i] = used[j] = True
                winner = (
                    "model_a" if ta > tb else "model_b" if tb > ta else "tie" if ta > 0 else "tie (bothbad)"
                )
                votes.append({"model_a": ma, "model_b": mb, "winner": winner})
                break
    return votes
