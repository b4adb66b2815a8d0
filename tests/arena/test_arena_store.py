"""The arena's database rules on a real SQLite file: votes, turns, deletion with tombstones, export rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from gencommons.arena import store
from gencommons.arena.db import Battle, Deletion, Turn, Vote, make_engine, sessions, upgrade
from gencommons.arena.store import ArenaError


@pytest.fixture
def s(tmp_path: Path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'arena.db'}"
    upgrade(url)
    engine = make_engine(url)
    with sessions(engine)() as session:
        store.sync_models(session, [("m1", "http://x", None), ("m2", "http://y", None)])
        yield session
    engine.dispose()


def _battle(s, user: str = "u1", share: bool = True):  # type: ignore[no-untyped-def]
    if store.get_user(s, user) is None:
        store.create_user(s, user, consent_version="1", share_prompts=share)
    return store.create_battle(
        s, user_id=user, mode="battle", model_a="m1", model_b="m2", ip_hash="h", prompt="hi"
    )


def test_vote_only_after_both_answers_and_only_once(s) -> None:  # type: ignore[no-untyped-def]
    battle, turn = _battle(s)
    with pytest.raises(ArenaError, match="Wait until both answers"):
        store.record_vote(s, battle, "model_a", ip_hash=None)
    store.save_answer(s, turn.id, "a", "answer A", "done")
    with pytest.raises(ArenaError, match="Wait until both answers"):
        store.record_vote(s, battle, "model_a", ip_hash=None)
    store.save_answer(s, turn.id, "b", "answer B", "done")
    with pytest.raises(ArenaError, match="winner must be one of"):
        store.record_vote(s, battle, "model_c", ip_hash=None)
    store.record_vote(s, battle, "tie (bothbad)", ip_hash=None)
    with pytest.raises(ArenaError, match="already voted"):
        store.record_vote(s, battle, "model_a", ip_hash=None)
    assert s.get(Turn, turn.id).finished_at is not None
    assert store.rating_votes(s) == [{"model_a": "m1", "model_b": "m2", "winner": "tie (bothbad)"}]


def test_turns_follow_the_rules(s) -> None:  # type: ignore[no-untyped-def]
    battle, turn = _battle(s)
    with pytest.raises(ArenaError, match="both answers are complete"):
        store.add_turn(s, battle, "more", max_turns=3)
    store.save_answer(s, turn.id, "a", "x", "done")
    store.save_answer(s, turn.id, "b", "", "error", "down")
    t2 = store.add_turn(s, battle, "more", max_turns=2)  # an error counts as complete
    assert t2.idx == 1
    store.save_answer(s, t2.id, "a", "x", "done")
    store.save_answer(s, t2.id, "b", "y", "done")
    with pytest.raises(ArenaError, match="at most 2 turns"):
        store.add_turn(s, battle, "again", max_turns=2)
    with pytest.raises(ArenaError, match="No such battle"):
        store.get_battle(s, battle.id, "someone-else")


def test_delete_user_removes_everything_and_leaves_a_tombstone(s) -> None:  # type: ignore[no-untyped-def]
    for user in ("u1", "u2"):
        battle, turn = _battle(s, user)
        store.save_answer(s, turn.id, "a", "x", "done")
        store.save_answer(s, turn.id, "b", "y", "done")
        store.record_vote(s, battle, "model_b", ip_hash=None)
    assert len(store.export_rows(s)) == 2
    counts = store.delete_user(s, "u1")
    assert counts == {"votes": 1, "battles": 1, "turns": 1}
    assert s.get(Deletion, "u1") is not None
    assert {b.user_id for b in s.query(Battle).all()} == {"u2"}
    assert {v.user_id for v in s.query(Vote).all()} == {"u2"}
    assert [r["model_b"] for r in store.export_rows(s)] == ["m2"]
    assert store.vote_stats(s)["deleted_users"] == 1
    with pytest.raises(ArenaError, match="No data"):
        store.user_data(s, "u1")


def test_export_rows_only_of_sharing_users(s) -> None:  # type: ignore[no-untyped-def]
    for user, share in (("sharer", True), ("private", False)):
        battle, turn = _battle(s, user, share)
        store.save_answer(s, turn.id, "a", "x", "done")
        store.save_answer(s, turn.id, "b", "y", "done")
        store.record_vote(s, battle, "model_a", ip_hash=None)
    rows = store.export_rows(s)
    assert len(rows) == 1
    assert "sharer" not in str(rows)  # no user id in the export
    assert len(store.rating_votes(s)) == 2  # both count in the ratings


def test_models_admin(s) -> None:  # type: ignore[no-untyped-def]
    store.add_model(s, "m3", "http://z", "remote")
    with pytest.raises(ArenaError, match="exists already"):
        store.add_model(s, "m3", "http://z", None)
    store.set_model_status(s, "m1", "paused")
    assert [m.name for m in store.list_models(s, status="active")] == ["m2", "m3"]
    with pytest.raises(ArenaError, match="status must be"):
        store.set_model_status(s, "m1", "deleted")
    store.sync_models(s, [("m1", "http://changed", None)])  # the config does not undo the admin
    assert store.list_models(s, status="paused")[0].endpoint == "http://x"


def test_nul_characters_are_stored_on_every_database(arena_database: str) -> None:
    """PostgreSQL refuses NUL in text; a model (or a user) can send one: it is stored as U+FFFD."""
    upgrade(arena_database)
    engine = make_engine(arena_database)
    try:
        with sessions(engine)() as s:
            store.create_user(s, "u", consent_version="1", share_prompts=True)
            battle, turn = store.create_battle(
                s, user_id="u", mode="battle", model_a="m1", model_b="m2", ip_hash=None, prompt="a\x00b"
            )
            store.save_answer(s, turn.id, "a", "x\x00y", "done")
            store.save_answer(s, turn.id, "b", "", "error", "bad\x00bytes")
            t = store.turns_of(s, battle.id)[0]
            assert (t.prompt, t.answer_a, t.error_b) == ("a\ufffdb", "x\ufffdy", "bad\ufffdbytes")
    finally:
        engine.dispose()
