"""Prompt language (fastText) and category (the documented rule), and per-language/category boards."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from arena_http import offline_config
from fastapi.testclient import TestClient

from gencommons.arena import store
from gencommons.arena.app import create_app
from gencommons.arena.classify import category, language


@pytest.mark.parametrize(
    ("prompt", "cat"),
    [
        ("Write a poem about the sea", "creative_writing"),
        ("Écris un poème sur la mer", "creative_writing"),
        ("Schreib eine Geschichte über einen Hund", "creative_writing"),
        ("```python\nprint(1)\n```\nwhy does this fail?", "code"),
        ("How do I reverse a list in Python?", "code"),
        ("SELECT name FROM users WHERE id = 3 -- is this safe?", "code"),
        ("Solve 2x + 3 = 7", "math"),
        ("Résous l'équation x^2 = 4", "math"),
        (r"What is \frac{1}{2} + \frac{1}{3}?", "math"),
        ("What is the capital of France?", "other"),
        ("Как дела?", "other"),
    ],
)
def test_category_rule(prompt: str, cat: str) -> None:
    assert category(prompt) == cat


@pytest.mark.parametrize(
    ("prompt", "lang"),
    [
        ("What is the capital of France and why is it there?", "en"),
        ("Quelle est la capitale de la France et pourquoi ?", "fr"),
        ("Как дела? Расскажи мне о себе, пожалуйста.", "ru"),
        ("日本の首都はどこですか？教えてください。", "ja"),
        ("1234 5678", None),
    ],
)
def test_language(prompt: str, lang: str | None) -> None:
    assert language(prompt) == lang


def test_boards_per_language_say_when_votes_are_too_few(tmp_path: Path) -> None:
    cfg = offline_config(tmp_path, min_votes_per_slice=40, bootstrap_rounds=10)
    app = create_app(cfg)
    arena = app.state.arena
    rng = random.Random(0)
    with arena.Session() as s:
        store.create_user(s, "u", consent_version="1", share_prompts=False)
        for i in range(120):
            lang = "fr" if i < 100 else "sw"
            battle, turn = store.create_battle(
                s,
                user_id="u",
                mode="battle",
                model_a="m1",
                model_b="m2",
                ip_hash=None,
                prompt="q",
                language=lang,
                category="other",
            )
            store.save_answer(s, turn.id, "a", "x", "done")
            store.save_answer(s, turn.id, "b", "y", "done")
            store.record_vote(s, battle, "model_a" if rng.random() < 0.7 else "model_b", ip_hash=None)
    with TestClient(app) as c:
        fr = c.get("/leaderboard.json?language=fr").json()
        assert fr["votes"] == 100
        assert [r["model"] for r in fr["rows"]] == ["m1", "m2"]
        sw = c.get("/leaderboard.json?language=sw").json()
        assert sw["votes"] == 20
        assert sw["too_few"] is True
        assert sw["rows"] == []
        page = c.get("/leaderboard?language=sw").text
        assert "too few to rank" in page
        assert "sw</a> (20, too few)" in c.get("/leaderboard").text
        assert c.get("/leaderboard.json").json()["votes"] == 120
