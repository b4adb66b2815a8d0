"""Incentives and cheap feedback: streaks, how a voter moved the board, the opt-in board, thumbs → votes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from arena_http import consent, csrf_of, offline_config
from fastapi.testclient import TestClient

from gencommons.arena import store
from gencommons.arena.app import create_app
from gencommons.arena.incentives import (
    contributors,
    set_display_name,
    set_thumbs,
    streak,
    thumbs_votes,
    voter_summary,
)
from gencommons.arena.store import ArenaError

D = dt.date(2026, 11, 28)


def test_streak() -> None:
    assert streak({D, D - dt.timedelta(1), D - dt.timedelta(2)}, D) == 3
    assert streak({D - dt.timedelta(1), D - dt.timedelta(2)}, D) == 2  # not voted yet today: not lost
    assert streak({D - dt.timedelta(2)}, D) == 0
    assert streak(set(), D) == 0


@pytest.fixture
def app(tmp_path: Path):  # type: ignore[no-untyped-def]
    cfg = offline_config(tmp_path, ("m1", "m2", "m3"))
    return create_app(cfg)


def _vote(s, user: str, a: str, b: str, winner: str) -> None:  # type: ignore[no-untyped-def]
    battle, turn = store.create_battle(
        s, user_id=user, mode="battle", model_a=a, model_b=b, ip_hash=None, prompt="q"
    )
    store.save_answer(s, turn.id, "a", "x", "done")
    store.save_answer(s, turn.id, "b", "y", "done")
    store.record_vote(s, battle, winner, ip_hash=None)


def test_summary_board_and_thumbs(app) -> None:  # type: ignore[no-untyped-def]
    with app.state.arena.Session() as s:
        for u in ("me", "crowd"):
            store.create_user(s, u, consent_version="1", share_prompts=False)
        for i in range(30):
            _vote(s, "crowd", "m1", "m2", "model_a" if i % 3 else "model_b")
            _vote(s, "crowd", "m2", "m3", "model_a" if i % 3 else "model_b")
        for _ in range(10):
            _vote(s, "me", "m1", "m2", "model_b")  # I like m2 better than the crowd does
        summary = voter_summary(s, "me")
        assert summary["votes"] == 10
        assert summary["streak"] == 1
        assert summary["moved"]["m2"] > 0
        assert summary["moved"]["m1"] < 0
        assert contributors(s) == []
        set_display_name(s, "me", "  Ada  ")
        assert contributors(s) == [("Ada", 10)]
        with pytest.raises(ArenaError, match="at most 40"):
            set_display_name(s, "me", "x" * 41)
        set_display_name(s, "me", "")
        assert contributors(s) == []

        chats = []
        for model, thumbs in (("m1", 1), ("m2", -1), ("m3", 1), ("m1", 1), ("m2", -1), ("m2", -1)):
            battle, turn = store.create_battle(
                s,
                user_id="me",
                mode="single",
                model_a=model,
                model_b=None,
                ip_hash=None,
                prompt="Same  PROMPT",
            )
            store.save_answer(s, turn.id, "a", "answer", "done")
            set_thumbs(s, battle, thumbs)
            chats.append(battle)
        # pairs in time order, each thumbs used once, never a model against itself (the last m2 stays alone)
        assert thumbs_votes(s) == [
            {"model_a": "m1", "model_b": "m2", "winner": "model_a"},
            {"model_a": "m3", "model_b": "m1", "winner": "tie"},
        ]
        battle, _ = store.create_battle(
            s, user_id="me", mode="battle", model_a="m1", model_b="m2", ip_hash=None, prompt="q"
        )
        with pytest.raises(ArenaError, match="single-model"):
            set_thumbs(s, battle, 1)


def test_pages(app) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app) as c:
        consent(c, share=False)
        page = c.get("/me").text
        csrf = csrf_of(page)
        assert "0 vote(s)" in page
        r = c.post("/me/name", data={"csrf": csrf, "name": "<b>Grace</b>"})
        assert r.status_code == 200
        assert "&lt;b&gt;Grace&lt;/b&gt;" not in r.text  # no votes yet: not on the board
        assert c.get("/leaderboard.json?source=thumbs").json()["rows"] == []
