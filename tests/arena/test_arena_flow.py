"""The whole arena over HTTP (starlette's TestClient) on real SQLite and PostgreSQL, with real model
endpoints on loopback: consent → battle → streamed answers → follow-up → vote → reveal → my data →
deletion (votes gone, tombstone left)."""

from __future__ import annotations

import json
from pathlib import Path

from arena_http import ArenaBackends, answers, arena_config, ask, consent, csrf_of, stream
from sqlalchemy import func, select
from starlette.testclient import TestClient

from gencommons.arena.app import SESSION_COOKIE, create_app
from gencommons.arena.db import Battle, Deletion, Turn, User, Vote, make_engine, sessions

NAMES = ("alpha-model", "beta-model")


def test_whole_flow(arena_database: str, arena_backends: ArenaBackends, tmp_path: Path) -> None:
    models = [arena_backends.model(NAMES[0], "tiny"), arena_backends.model(NAMES[1], "normal")]
    cfg = arena_config(tmp_path, arena_database, models)
    with TestClient(create_app(cfg)) as client:
        # a first user, who votes and keeps their data
        consent(client, share=False)
        other_csrf = csrf_of(client.get("/").text)
        other_battle, _, _ = ask(client, other_csrf, "Another user's question")
        stream(client, other_battle, 0)
        assert client.post(
            f"/battle/{other_battle}/vote", data={"csrf": other_csrf, "winner": "tie"}
        ).is_success
        other_cookie = client.cookies[SESSION_COOKIE]
        client.cookies.clear()

        # consent: a signed session cookie, HttpOnly and SameSite
        csrf = consent(client, share=True)
        me = client.cookies[SESSION_COOKIE]
        assert me != other_cookie

        # a battle: anonymous panes, both answers streamed
        battle_id, idx, fragment = ask(client, csrf, "What is Debian?")
        assert idx == 0
        assert "Model A" in fragment
        assert "Model B" in fragment
        assert not any(name in fragment for name in NAMES)  # the names stay hidden until the vote
        _, events = stream(client, battle_id, 0)
        assert [k for k, _ in events].count("done") == 2
        assert events[-1][0] == "end"
        text, failed = answers(events)
        assert failed == {}
        scripted_side = "a" if text.get("a", "").startswith("Answer of scripted-normal") else "b"
        assert text[scripted_side] == "Answer of scripted-normal (turn 1) to: What is Debian?."

        # a follow-up: both models see the conversation so far
        same, idx, _ = ask(client, csrf, "And Ubuntu?", battle_id=battle_id)
        assert (same, idx) == (battle_id, 1)
        _, events = stream(client, battle_id, 1)
        text1, failed = answers(events)
        assert failed == {}
        assert text1[scripted_side] == "Answer of scripted-normal (turn 2) to: And Ubuntu?."
        _, last_request = arena_backends.scripted.requests[-1]
        assert [m["role"] for m in last_request["messages"]] == ["user", "assistant", "user"]
        assert last_request["messages"][1]["content"] == text[scripted_side]

        # a late listener gets the whole turn again (from memory or the database)
        _, replay = stream(client, battle_id, 1)
        assert answers(replay) == (text1, {})

        # vote, reveal; a second vote is refused
        r = client.post(f"/battle/{battle_id}/vote", data={"csrf": csrf, "winner": "model_a"})
        assert r.status_code == 200
        assert 'class="model-a"' in r.text
        assert 'class="model-b"' in r.text
        assert 'id="new-battle"' in r.text
        assert all(name in r.text for name in NAMES)
        assert (
            client.post(f"/battle/{battle_id}/vote", data={"csrf": csrf, "winner": "tie"}).status_code == 409
        )
        # and no follow-up after the vote
        r = client.post("/battle", data={"csrf": csrf, "prompt": "more", "battle_id": battle_id})
        assert r.status_code == 409

        # my data: the page and the download
        page = client.get("/me")
        assert page.status_code == 200
        assert "1 battle(s)" in page.text
        dl = client.get("/me/data.json")
        assert dl.status_code == 200
        assert "attachment" in dl.headers["content-disposition"]
        data = json.loads(dl.text)
        assert data["share_prompts"] is True
        [mine] = data["battles"]
        assert mine["battle"] == battle_id
        assert mine["vote"] == "model_a"
        assert sorted(mine["models"]) == sorted(NAMES)
        assert [t["prompt"] for t in mine["turns"]] == ["What is Debian?", "And Ubuntu?"]
        assert mine["turns"][0][f"answer_{scripted_side}"] == text[scripted_side]
        assert "Another user" not in dl.text

        # deletion: confirmation required, then everything of mine goes and a tombstone stays
        r = client.post("/me/delete", data={"csrf": csrf, "confirm": "no"})
        assert r.status_code == 400
        r = client.post("/me/delete", data={"csrf": csrf, "confirm": "delete"})
        assert r.status_code == 200
        assert "2 turn(s), 1 vote(s)" in r.text
        assert SESSION_COOKIE not in client.cookies  # the response deleted the cookie
        assert "Before you start" in client.get("/").text
        client.cookies.set(SESSION_COOKIE, me)  # the old cookie opens nothing any more
        assert client.get("/me").status_code == 401
        assert client.get("/me/data.json").status_code == 401

    engine = make_engine(arena_database)
    try:
        with sessions(engine)() as s:
            [(my_id,)] = s.execute(select(Deletion.user_id)).all()
            assert s.get(User, my_id) is None
            assert s.scalar(select(func.count()).select_from(Vote).where(Vote.user_id == my_id)) == 0
            assert s.scalar(select(func.count()).select_from(Battle).where(Battle.user_id == my_id)) == 0
            assert s.scalar(select(func.count()).select_from(Turn).where(Turn.battle_id == battle_id)) == 0
            # the other user's battle and vote are untouched
            assert [v.winner for v in s.scalars(select(Vote))] == ["tie"]
            assert s.get(Battle, other_battle) is not None
    finally:
        engine.dispose()
