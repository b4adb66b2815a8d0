"""Every read and write of the arena's database, as plain functions over a SQLAlchemy session.

The web app, the CLI (export, ratings) and the tests all go through here, so the rules live in one
place: a vote is accepted once per battle, only after both answers are done; deleting a user removes
everything of theirs and leaves a tombstone.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gencommons.arena.db import WINNERS, Battle, Deletion, Model, Refusal, Turn, User, Vote, utcnow
from gencommons.errors import UserError


class ArenaError(UserError):
    """A request the arena refuses (shown to the user as it is)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def storable(text: str) -> str:
    """``text`` as every database can hold it: PostgreSQL refuses NUL characters in text, and models
    (a tiny random one, or any one answering garbage) and users can produce them."""
    return text.replace("\x00", "\ufffd")


# -- users ------------------------------------------------------------------------------------------


def create_user(s: Session, user_id: str, *, consent_version: str, share_prompts: bool) -> User:
    user = User(id=user_id, consent_version=consent_version, share_prompts=share_prompts)
    s.add(user)
    s.commit()
    return user


def get_user(s: Session, user_id: str | None) -> User | None:
    return s.get(User, user_id) if user_id else None


def delete_user(s: Session, user_id: str) -> dict[str, int]:
    """Delete a user's battles, turns and votes and the user; record a tombstone. Returns the counts."""
    battles = s.scalars(select(Battle.id).where(Battle.user_id == user_id)).all()
    counts = {
        "votes": s.scalar(select(func.count()).select_from(Vote).where(Vote.user_id == user_id)) or 0,
        "battles": len(battles),
        "turns": s.scalar(select(func.count()).select_from(Turn).where(Turn.battle_id.in_(battles))) or 0
        if battles
        else 0,
    }
    # explicit deletes (not only ON DELETE CASCADE): SQLite enforces cascades only with foreign_keys=ON
    if battles:
        s.execute(delete(Turn).where(Turn.battle_id.in_(battles)))
    s.execute(delete(Vote).where(Vote.user_id == user_id))
    s.execute(delete(Refusal).where(Refusal.user_id == user_id))
    s.execute(delete(Battle).where(Battle.user_id == user_id))
    s.execute(delete(User).where(User.id == user_id))
    if s.get(Deletion, user_id) is None:
        s.add(Deletion(user_id=user_id))
    s.commit()
    return counts


def user_data(s: Session, user_id: str) -> dict[str, Any]:
    """Everything stored about a user, as JSON-able data (the "download my data" page)."""
    user = s.get(User, user_id)
    if user is None:
        raise ArenaError("No data is stored for you.", 404)
    battles = s.scalars(select(Battle).where(Battle.user_id == user_id).order_by(Battle.created_at)).all()
    out = []
    for b in battles:
        turns = s.scalars(select(Turn).where(Turn.battle_id == b.id).order_by(Turn.idx)).all()
        vote = s.scalar(select(Vote).where(Vote.battle_id == b.id))
        out.append(
            {
                "battle": b.id,
                "mode": b.mode,
                "created_at": b.created_at.isoformat(),
                "models": [b.model_a, b.model_b]
                if b.status == "voted" or b.mode != "battle"
                else "hidden until you vote",
                "turns": [
                    {"prompt": t.prompt, "answer_a": t.answer_a, "answer_b": t.answer_b} for t in turns
                ],
                "vote": vote.winner if vote else None,
            }
        )
    return {
        "user": user.id,
        "created_at": user.created_at.isoformat(),
        "consent_version": user.consent_version,
        "share_prompts": user.share_prompts,
        "battles": out,
        "note": "IP addresses are never stored; battles hold only a salted hash of it that changes daily.",
    }


# -- models -----------------------------------------------------------------------------------------


def sync_models(s: Session, entries: list[tuple[str, str, str | None]]) -> None:
    """Add the config's models that the database does not know (admin changes to known ones stay)."""
    for name, endpoint, remote in entries:
        if s.get(Model, name) is None:
            s.add(Model(name=name, endpoint=endpoint, remote_model=remote, status="active"))
    s.commit()


def list_models(s: Session, *, status: str | None = None) -> list[Model]:
    q = select(Model).order_by(Model.name)
    if status:
        q = q.where(Model.status == status)
    return list(s.scalars(q).all())


def set_model_status(s: Session, name: str, status: str) -> None:
    if status not in ("active", "paused", "removed"):
        raise ArenaError(f"status must be active, paused or removed, not {status!r}")
    m = s.get(Model, name)
    if m is None:
        raise ArenaError(f"No model named {name!r}.", 404)
    m.status = status
    s.commit()


def add_model(s: Session, name: str, endpoint: str, remote: str | None) -> None:
    name = name.strip()
    if not name or len(name) > 128:
        raise ArenaError("A model needs a name of 1 to 128 characters.")
    if not endpoint.strip():
        raise ArenaError("A model needs an endpoint (a model folder or an http(s):// URL).")
    if s.get(Model, name) is not None:
        raise ArenaError(f"A model named {name!r} exists already.", 409)
    s.add(
        Model(
            name=name, endpoint=endpoint.strip(), remote_model=(remote or "").strip() or None, status="active"
        )
    )
    s.commit()


# -- battles ----------------------------------------------------------------------------------------


def create_battle(
    s: Session,
    *,
    user_id: str,
    mode: str,
    model_a: str,
    model_b: str | None,
    ip_hash: str | None,
    prompt: str,
    language: str | None = None,
    category: str | None = None,
) -> tuple[Battle, Turn]:
    battle = Battle(
        id=secrets.token_hex(16),
        user_id=user_id,
        mode=mode,
        model_a=model_a,
        model_b=model_b,
        ip_hash=ip_hash,
        language=language,
        category=category,
    )
    turn = Turn(battle_id=battle.id, idx=0, prompt=storable(prompt), answer_a="", answer_b="")
    if model_b is None:
        turn.state_b = "done"
    s.add_all([battle, turn])
    s.commit()
    return battle, turn


def get_battle(s: Session, battle_id: str, user_id: str) -> Battle:
    b = s.get(Battle, battle_id)
    if b is None or b.user_id != user_id:  # another user's battle does not exist for you
        raise ArenaError("No such battle.", 404)
    return b


def turns_of(s: Session, battle_id: str) -> list[Turn]:
    return list(s.scalars(select(Turn).where(Turn.battle_id == battle_id).order_by(Turn.idx)).all())


def add_turn(s: Session, battle: Battle, prompt: str, *, max_turns: int) -> Turn:
    if battle.status != "open":
        raise ArenaError("This battle is over (you voted); start a new one.", 409)
    turns = turns_of(s, battle.id)
    if len(turns) >= max_turns:
        raise ArenaError(f"A battle has at most {max_turns} turns; vote, then start a new one.", 409)
    last = turns[-1]
    if not _answered(last, battle):
        raise ArenaError("Wait until both answers are complete before asking more.", 409)
    turn = Turn(battle_id=battle.id, idx=last.idx + 1, prompt=storable(prompt), answer_a="", answer_b="")
    if battle.model_b is None:
        turn.state_b = "done"
    s.add(turn)
    s.commit()
    return turn


def _answered(turn: Turn, battle: Battle) -> bool:
    return turn.state_a in ("done", "error") and (battle.model_b is None or turn.state_b in ("done", "error"))


def save_answer(s: Session, turn_id: int, side: str, text: str, state: str, error: str | None = None) -> None:
    turn = s.get(Turn, turn_id)
    if turn is None:  # the user deleted their data meanwhile
        return
    setattr(turn, f"answer_{side}", storable(text))
    setattr(turn, f"state_{side}", state)
    setattr(turn, f"error_{side}", storable(error) if error else error)
    if turn.state_a in ("done", "error") and turn.state_b in ("done", "error"):
        turn.finished_at = utcnow()
    s.commit()


def record_vote(s: Session, battle: Battle, winner: str, *, ip_hash: str | None) -> Vote:
    """One vote per battle, after every answer of its last turn is complete (an error counts as complete)."""
    if winner not in WINNERS:
        raise ArenaError(f"winner must be one of {', '.join(WINNERS)}.")
    if battle.mode == "single" or battle.model_b is None:
        raise ArenaError("Single-model chats have no vote.")
    if battle.status != "open":
        raise ArenaError("You already voted in this battle.", 409)
    turns = turns_of(s, battle.id)
    if not turns or not _answered(turns[-1], battle):
        raise ArenaError("Wait until both answers are complete, then vote.", 409)
    vote = Vote(battle_id=battle.id, user_id=battle.user_id, winner=winner, ip_hash=ip_hash)
    from gencommons.arena.quality import identity_flag

    names = [m.name for m in list_models(s)]
    answers = [t.answer_a for t in turns] + [t.answer_b for t in turns]
    if battle.mode == "battle" and identity_flag([t.prompt for t in turns], answers, names):
        vote.flags = json.dumps(["identity"])  # not blind any more: kept, shown, left out of the ratings
        vote.excluded = True
    battle.status = "voted"
    s.add(vote)
    try:
        s.commit()
    except IntegrityError as e:  # a second request for the same battle raced this one
        s.rollback()
        raise ArenaError("You already voted in this battle.", 409) from e
    return vote


def review_votes(s: Session, **options: Any) -> dict[str, Any]:
    """Run the per-voter checks (:func:`gencommons.arena.quality.flag_voters`) over every vote of an
    anonymous battle and store the flags: a flagged voter's votes are marked and excluded from the
    ratings (identity flags set at vote time stay). Returns the voter report and counts."""
    import polars as pl

    from gencommons.arena.quality import flag_voters

    q = (
        select(Vote, Battle.model_a, Battle.model_b)
        .join(Battle, Battle.id == Vote.battle_id)
        .where(Battle.mode == "battle")
    )
    rows = s.execute(q).all()
    if not rows:
        return {"voters": [], "flagged_voters": 0, "excluded_votes": 0}
    last: dict[str, Turn] = {}
    for t in s.scalars(select(Turn).where(Turn.battle_id.in_([v.battle_id for v, _, _ in rows]))).all():
        if t.battle_id not in last or t.idx > last[t.battle_id].idx:
            last[t.battle_id] = t
    records = []
    for v, a, b in rows:
        lt = last.get(v.battle_id)
        done = as_utc(lt.finished_at) if lt is not None and lt.finished_at else None
        records.append(
            {
                "model_a": a,
                "model_b": b,
                "winner": v.winner,
                "voter": v.user_id,
                "seconds_to_vote": (as_utc(v.created_at) - done).total_seconds() if done else 1e9,
                "answer_chars": len(lt.answer_a) + len(lt.answer_b) if lt is not None else 0,
            }
        )
    report = flag_voters(pl.DataFrame(records), **options)
    flagged = {r["voter"]: r["flags"] for r in report.iter_rows(named=True) if r["flags"]}
    excluded = 0
    for v, _, _ in rows:
        flags = [f for f in json.loads(v.flags or "[]") if f == "identity"] + flagged.get(v.user_id, [])
        v.flags = json.dumps(flags) if flags else None
        v.excluded = bool(flags)
        excluded += v.excluded
    s.commit()
    return {"voters": report.to_dicts(), "flagged_voters": len(flagged), "excluded_votes": excluded}


def unfinished_turns(s: Session) -> list[Turn]:
    """Turns left pending/streaming by a server that stopped (marked interrupted at start)."""
    q = select(Turn).where(
        (Turn.state_a.in_(("pending", "streaming"))) | (Turn.state_b.in_(("pending", "streaming")))
    )
    return list(s.scalars(q).all())


# -- votes for ratings and exports ------------------------------------------------------------------


def rating_votes(
    s: Session, *, include_excluded: bool = False, language: str | None = None, category: str | None = None
) -> list[dict[str, str | None]]:
    """Votes of anonymous battles (the only ones ratings use), as rows model_a, model_b, winner, in the
    order they were cast; optionally of one language and/or category."""
    q = select(Battle.model_a, Battle.model_b, Vote.winner).join(Vote, Vote.battle_id == Battle.id)
    q = q.where(Battle.mode == "battle")
    if not include_excluded:
        q = q.where(Vote.excluded.is_(False))
    if language:
        q = q.where(Battle.language == language)
    if category:
        q = q.where(Battle.category == category)
    q = q.order_by(Vote.created_at, Vote.id)
    return [{"model_a": a, "model_b": b, "winner": w} for a, b, w in s.execute(q).all()]


def record_refusal(
    s: Session, *, user_id: str | None, stage: str, rule: str, battle_id: str | None = None
) -> None:
    s.add(Refusal(user_id=user_id, stage=stage, rule=rule, battle_id=battle_id))
    s.commit()


def refusal_counts(s: Session) -> dict[str, int]:
    q = select(Refusal.stage, Refusal.rule, func.count()).group_by(Refusal.stage, Refusal.rule)
    return {f"{stage} · {rule}": n for stage, rule, n in s.execute(q).all()}


def release_votes(s: Session) -> list[dict[str, Any]]:
    """Rated votes with their (pseudonymous) user, language and category: the input of a DP release."""
    q = (
        select(Vote.user_id, Battle.language, Battle.category, Battle.model_a, Battle.model_b, Vote.winner)
        .join(Battle, Battle.id == Vote.battle_id)
        .where(Battle.mode == "battle", Vote.excluded.is_(False))
    )
    keys = ("user", "language", "category", "model_a", "model_b", "winner")
    return [dict(zip(keys, row, strict=True)) for row in s.execute(q).all()]


def flagged_count(s: Session) -> int:
    return s.scalar(select(func.count()).select_from(Vote).where(Vote.excluded.is_(True))) or 0


def votes_by(s: Session, column: str) -> dict[str, int]:
    """Rated votes per language or per category (None counted as "unknown")."""
    col = {"language": Battle.language, "category": Battle.category}[column]
    q = (
        select(col, func.count())
        .join(Vote, Vote.battle_id == Battle.id)
        .where(Battle.mode == "battle", Vote.excluded.is_(False))
        .group_by(col)
    )
    return {(k or "unknown"): n for k, n in s.execute(q).all()}


def set_category(s: Session, battle: Battle, value: str) -> None:
    from gencommons.arena.classify import CATEGORIES

    if value not in CATEGORIES:
        raise ArenaError(f"category must be one of {', '.join(CATEGORIES)}.")
    battle.category = value
    s.commit()


def vote_stats(s: Session) -> dict[str, Any]:
    per_model: dict[str, int] = {}
    for a, b in s.execute(
        select(Battle.model_a, Battle.model_b).join(Vote, Vote.battle_id == Battle.id)
    ).all():
        for m in (a, b):
            if m:
                per_model[m] = per_model.get(m, 0) + 1
    winners = dict(s.execute(select(Vote.winner, func.count()).group_by(Vote.winner)).all())
    return {
        "votes": s.scalar(select(func.count()).select_from(Vote)) or 0,
        "battles": s.scalar(select(func.count()).select_from(Battle)) or 0,
        "users": s.scalar(select(func.count()).select_from(User)) or 0,
        "deleted_users": s.scalar(select(func.count()).select_from(Deletion)) or 0,
        "refusals": refusal_counts(s),
        "by_winner": winners,
        "by_model": dict(sorted(per_model.items())),
    }


def export_rows(s: Session) -> list[dict[str, Any]]:
    """Voted battles of users who opted in to sharing, one row each (the preference dataset)."""
    q = (
        select(Battle, Vote, User)
        .join(Vote, Vote.battle_id == Battle.id)
        .join(User, User.id == Battle.user_id)
        .where(User.share_prompts.is_(True))
        .order_by(Vote.created_at)
    )
    rows = []
    for battle, vote, _user in s.execute(q).all():
        turns = turns_of(s, battle.id)
        rows.append(
            {
                "battle_id": battle.id,
                "mode": battle.mode,
                "model_a": battle.model_a,
                "model_b": battle.model_b,
                "winner": vote.winner,
                "conversation_a": json.dumps(_conversation(turns, "a"), ensure_ascii=False),
                "conversation_b": json.dumps(_conversation(turns, "b"), ensure_ascii=False),
                "turns": len(turns),
                "language": battle.language,
                "category": battle.category,
                "started_at": battle.created_at,
                "voted_at": vote.created_at,
                "excluded_from_ratings": vote.excluded,
                "flags": vote.flags,
            }
        )
    return rows


def _conversation(turns: list[Turn], side: str) -> list[dict[str, str]]:
    out = []
    for t in turns:
        out.append({"role": "user", "content": t.prompt})
        out.append({"role": "assistant", "content": getattr(t, f"answer_{side}")})
    return out


def as_utc(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)
