"""The arena against hostile input and failing models, over HTTP with real endpoints on loopback:
CSRF on every POST route, cookie flags, the request size limit, escaping of hostile answers, prompts and
model names everywhere, slow / down / garbage endpoints (a clear message, the battle survives, retry
works once the endpoint is back), a server restart mid-answer, and the admin login."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from arena_http import ArenaBackends, answers, arena_config, ask, consent, csrf_of, stream
from markupsafe import escape
from scripted_openai import HOSTILE, ScriptedOpenAI
from sqlalchemy import select
from starlette.routing import Route
from starlette.testclient import TestClient

from gencommons.arena.app import ADMIN_COOKIE, MAX_BODY, SESSION_COOKIE, VISITOR_COOKIE, create_app
from gencommons.arena.db import Turn, make_engine, sessions

HOSTILE_NAME = '<img src=x onerror=alert("name")>'
ADMIN_ENV = "GENCOMMONS_TEST_ARENA_ADMIN"


def sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'arena.db'}"


def assert_inert(html: str) -> None:
    """No hostile markup made it into ``html`` as markup."""
    for raw in ("<script>alert", "<img", 'id="pwned"', 'href="javascript', "<b>bold", "</main><h1"):
        assert raw not in html, f"{raw!r} unescaped in {html[:500]!r}"


def test_csrf_missing_or_wrong_is_403_on_every_post_route(
    arena_backends: ArenaBackends, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ADMIN_ENV, "s3cret")
    models = [arena_backends.model("m1", "normal"), arena_backends.model("m2", "normal")]
    app = create_app(arena_config(tmp_path, sqlite(tmp_path), models, admin_password_env=ADMIN_ENV))
    with TestClient(app) as client:
        csrf = consent(client)
        battle_id, _, _ = ask(client, csrf, "hello")
        stream(client, battle_id, 0)
        posts = [r.path for r in app.routes if isinstance(r, Route) and "POST" in (r.methods or ())]
        assert len(posts) >= 7  # consent, battle, retry, vote, delete, admin login, admin models
        anonymous = csrf_of(TestClient(app).get("/").text)  # a valid token, but of another session
        for path in posts:
            url = path.replace("{battle_id}", battle_id)
            form = {
                "prompt": "x",
                "winner": "model_a",
                "confirm": "delete",
                "agree": "yes",
                "password": "s3cret",
            }
            for token in (None, "", "0" * 64, anonymous):
                data = form | ({} if token is None else {"csrf": token})
                r = client.post(url, data=data, follow_redirects=False)
                assert r.status_code == 403, (url, token, r.status_code, r.text)
                assert "did not come from this site" in r.text
            assert client.post(url, data=form, headers={"X-CSRF-Token": "bad"}).status_code == 403
        # nothing happened: the vote is still open, the user still there
        r = client.post(f"/battle/{battle_id}/vote", data={"winner": "tie"}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200  # the header (what htmx sends) is accepted in place of the field


def test_another_site_cannot_post_a_consent(arena_backends: ArenaBackends, tmp_path: Path) -> None:
    """Before consent the token is keyed by the visitor's own SameSite=Strict cookie: a token read by
    another client (an attacker's page) fails, and so does a post without the cookie (what a browser
    sends from another site), so nobody can be signed up, or opted in to sharing, by a foreign form."""
    app = create_app(arena_config(tmp_path, sqlite(tmp_path), [arena_backends.model("m1", "normal")]))
    with TestClient(app) as attacker, TestClient(app) as victim:
        token = csrf_of(attacker.get("/").text)
        victim.get("/")  # the victim has a visitor cookie of their own
        r = victim.post(
            "/consent", data={"csrf": token, "agree": "yes", "share": "yes"}, follow_redirects=False
        )
        assert r.status_code == 403
        r = TestClient(app).post("/consent", data={"csrf": token, "agree": "yes"}, follow_redirects=False)
        assert r.status_code == 403  # no visitor cookie at all
        own = csrf_of(victim.get("/").text)
        assert own != token
        r = victim.post("/consent", data={"csrf": own, "agree": "yes"}, follow_redirects=False)
        assert r.status_code == 303


def test_session_and_admin_cookies_are_httponly_and_samesite(
    arena_backends: ArenaBackends, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ADMIN_ENV, "s3cret")
    models = [arena_backends.model("m1", "normal")]
    for https in (False, True):
        cfg = arena_config(
            tmp_path, sqlite(tmp_path), models, admin_password_env=ADMIN_ENV, https_only_cookies=https
        )
        # Secure cookies come back only over https, as a browser does
        with TestClient(
            create_app(cfg), base_url="https://testserver" if https else "http://testserver"
        ) as client:
            page = client.get("/")
            visitor = page.headers["set-cookie"]
            assert visitor.startswith(f"{VISITOR_COOKIE}=")
            assert "samesite=strict" in visitor.lower()
            assert ("Secure" in visitor) == https
            r = client.post(
                "/consent", data={"csrf": csrf_of(page.text), "agree": "yes"}, follow_redirects=False
            )
            session = r.headers["set-cookie"]
            assert session.startswith(f"{SESSION_COOKIE}=")
            assert "HttpOnly" in session
            assert "samesite=lax" in session.lower()
            assert ("Secure" in session) == https
            token = csrf_of(client.get("/").text)
            r = client.post(
                "/admin/login", data={"csrf": token, "password": "s3cret"}, follow_redirects=False
            )
            assert r.status_code == 303
            admin = r.headers["set-cookie"]
            assert admin.startswith(f"{ADMIN_COOKIE}=")
            assert "HttpOnly" in admin
            assert "samesite=strict" in admin.lower()
            assert ("Secure" in admin) == https


def test_bodies_over_64_kb_are_refused_with_413(arena_backends: ArenaBackends, tmp_path: Path) -> None:
    models = [arena_backends.model("m1", "normal"), arena_backends.model("m2", "normal")]
    with TestClient(create_app(arena_config(tmp_path, sqlite(tmp_path), models))) as client:
        csrf = consent(client)
        big = "x" * (MAX_BODY + 10)
        r = client.post("/battle", data={"csrf": csrf, "prompt": big})
        assert r.status_code == 413
        assert "too large" in r.json()["error"]
        r = client.post("/battle", data={"csrf": csrf, "prompt": big}, headers={"HX-Request": "true"})
        assert r.status_code == 413
        assert r.text.startswith('<p class="error" role="alert">')

        def chunked() -> Any:  # no Content-Length: the limit must count what arrives
            yield f"csrf={csrf}&prompt=".encode()
            for _ in range(MAX_BODY // 1024 + 2):
                yield b"y" * 1024

        ctype = {"content-type": "application/x-www-form-urlencoded"}
        r = client.post("/battle", content=chunked(), headers=ctype)
        assert r.status_code == 413
        # just under the limit is read (and refused for its length, by the prompt rule)
        r = client.post("/battle", data={"csrf": csrf, "prompt": "z" * (MAX_BODY - 200)})
        assert r.status_code == 400
        assert "prompt is too long" in r.json()["error"]


def test_hostile_answers_prompts_and_names_are_escaped_everywhere(
    arena_backends: ArenaBackends, tmp_path: Path
) -> None:
    models = [arena_backends.model(HOSTILE_NAME, "hostile"), arena_backends.model("plain", "hostile")]
    with TestClient(create_app(arena_config(tmp_path, sqlite(tmp_path), models))) as client:
        csrf = consent(client)
        battle_id, _, fragment = ask(client, csrf, HOSTILE)
        assert str(escape(HOSTILE.strip())) in fragment
        assert_inert(fragment)

        # the stream: every event's data is one JSON object; the text arrives intact, as text
        raw, events = stream(client, battle_id, 0)
        for block in raw.strip().split("\n\n"):
            lines = block.split("\n")
            assert [line.split(":", 1)[0] for line in lines] == ["event", "data"], block
            json.loads(lines[1][len("data: ") :])
        assert [k for k, _ in events].count("end") == 1
        text, failed = answers(events)
        assert failed == {}
        assert text == {"a": HOSTILE, "b": HOSTILE}

        # the next turn's fragment renders the first turn's answers from the database
        _, _, fragment = ask(client, csrf, "and <script>alert('again')</script>", battle_id=battle_id)
        assert str(escape(HOSTILE)) in fragment
        assert "&lt;script&gt;alert(&#39;again&#39;)" in fragment
        assert_inert(fragment)
        _, events = stream(client, battle_id, 1)
        assert answers(events) == ({"a": HOSTILE, "b": HOSTILE}, {})

        reveal = client.post(f"/battle/{battle_id}/vote", data={"csrf": csrf, "winner": "model_b"}).text
        assert str(escape(HOSTILE_NAME)) in reveal
        assert_inert(reveal)

        for page in ("/", "/me", "/admin"):
            r = client.get(page)
            assert r.status_code == 200
            assert_inert(r.text)
        data = client.get("/me/data.json")
        assert data.headers["content-type"] == "application/json"
        assert data.headers["x-content-type-options"] == "nosniff"
        assert data.json()["battles"][0]["turns"][0]["answer_a"] == HOSTILE


SIDE_BY_SIDE = {"mode": "side_by_side", "model_a": "good", "model_b": "flaky"}


def good_and_flaky(backends: ArenaBackends, flaky: ScriptedOpenAI, route: str) -> list[dict[str, Any]]:
    """A model that answers and one on ``flaky``'s ``route`` (whose behaviour the test switches)."""
    return [
        backends.model("good", "normal"),
        {"name": "flaky", "endpoint": flaky.endpoint(route), "model": "flaky"},
    ]


def retry_succeeds(client: TestClient, csrf: str, battle_id: str) -> None:
    r = client.post(f"/battle/{battle_id}/retry", data={"csrf": csrf})
    assert r.status_code == 200
    _, events = stream(client, battle_id, 0)
    text, failed = answers(events)
    assert failed == {}
    assert text["b"].startswith("Answer of flaky ")


@pytest.mark.parametrize("failure", ["slow", "garbage", "down"])
def test_a_failing_endpoint_gives_a_clear_message_and_the_battle_survives(
    failure: str, arena_backends: ArenaBackends, tmp_path: Path
) -> None:
    flaky = ScriptedOpenAI(slow_s=3.0).start()
    try:
        flaky.routes["flaky"] = failure if failure != "down" else "normal"
        if failure == "down":
            flaky.stop()  # connection refused until it is started again
        cfg = arena_config(tmp_path, sqlite(tmp_path), good_and_flaky(arena_backends, flaky, "flaky"))
        with TestClient(create_app(cfg)) as client:
            csrf = consent(client)
            battle_id, _, fragment = ask(client, csrf, "Are you there?", **SIDE_BY_SIDE)
            assert 'id="retry"' in fragment
            _, events = stream(client, battle_id, 0)
            text, failed = answers(events)
            assert text["a"].startswith("Answer of scripted-normal ")
            message = failed["b"]
            expected = {
                "slow": "did not answer within 1 s",
                "garbage": "not JSON",
                "down": "Cannot reach",
            }[failure]
            assert message.startswith("The model could not answer: "), message
            assert expected in message
            assert [k for k, _ in events].count("done") == 2  # the page is told both sides ended

            # the battle is kept: no vote on a failed answer, the state is in the database
            r = client.post(f"/battle/{battle_id}/vote", data={"csrf": csrf, "winner": "model_a"})
            assert r.status_code == 409
            assert "retry" in r.json()["error"]
            r = client.post(
                f"/battle/{battle_id}/vote",
                data={"csrf": csrf, "winner": "model_a"},
                headers={"HX-Request": "true"},
            )
            assert r.status_code == 409
            assert 'role="alert"' in r.text

            # the endpoint comes back: retry regenerates only the failed side
            if failure == "down":
                flaky.start()
            flaky.routes["flaky"] = "normal"
            calls_before = len(arena_backends.scripted.requests)
            retry_succeeds(client, csrf, battle_id)
            assert len(arena_backends.scripted.requests) == calls_before  # the good side was kept
            assert client.post(f"/battle/{battle_id}/retry", data={"csrf": csrf}).status_code == 409
            r = client.post(f"/battle/{battle_id}/vote", data={"csrf": csrf, "winner": "model_a"})
            assert r.status_code == 200
        engine = make_engine(cfg.database)
        try:
            with sessions(engine)() as s:
                [turn] = s.scalars(select(Turn)).all()
                assert (turn.state_a, turn.state_b, turn.error_b) == ("done", "done", None)
                assert turn.answer_a == text["a"]
        finally:
            engine.dispose()
    finally:
        flaky.stop()


def test_a_restart_mid_answer_marks_the_turn_for_retry(arena_backends: ArenaBackends, tmp_path: Path) -> None:
    flaky = ScriptedOpenAI(slow_s=3.0).start()
    try:
        flaky.routes["x"] = "slow"
        models = good_and_flaky(arena_backends, flaky, "x")
        cfg = arena_config(tmp_path, sqlite(tmp_path), models, request_timeout_s=30)
        with TestClient(create_app(cfg)) as client:
            csrf = consent(client)
            cookie = client.cookies[SESSION_COOKIE]
            battle_id, _, _ = ask(client, csrf, "Wait", **SIDE_BY_SIDE)
        # the server stopped while "flaky" was still answering; a new one starts on the same database
        flaky.routes["x"] = "normal"
        with TestClient(create_app(cfg)) as client:
            client.cookies.set(SESSION_COOKIE, cookie)
            _, events = stream(client, battle_id, 0)
            _, failed = answers(events)
            assert "restarted" in failed["b"]
            retry_succeeds(client, csrf, battle_id)
    finally:
        flaky.stop()


def test_admin_needs_a_login_and_refuses_a_wrong_password(
    arena_backends: ArenaBackends, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = [arena_backends.model("m1", "normal")]
    # no password configured: the admin page is off and no password opens it
    monkeypatch.delenv(ADMIN_ENV, raising=False)
    cfg = arena_config(tmp_path, sqlite(tmp_path), models, admin_password_env=ADMIN_ENV)
    with TestClient(create_app(cfg)) as client:
        assert "The admin page is off" in client.get("/admin").text
        r = client.post("/admin/login", data={"csrf": csrf_of(client.get("/").text), "password": ""})
        assert r.status_code == 403

    monkeypatch.setenv(ADMIN_ENV, "correct horse")
    with TestClient(create_app(cfg)) as client:
        page = client.get("/admin")
        assert 'type="password"' in page.text
        csrf = csrf_of(page.text)
        add = {"csrf": csrf, "action": "add", "name": HOSTILE_NAME, "endpoint": "http://127.0.0.1:9/v1"}
        for data in (add, {"csrf": csrf, "action": "paused", "name": "m1"}):
            r = client.post("/admin/models", data=data, follow_redirects=False)
            assert r.status_code == 403
            assert "Log in as admin first" in r.text
        client.cookies.set(ADMIN_COOKIE, "admin.forged.signature")
        assert client.post("/admin/models", data=add, follow_redirects=False).status_code == 403
        client.cookies.delete(ADMIN_COOKIE)
        r = client.post("/admin/login", data={"csrf": csrf, "password": "wrong"}, follow_redirects=False)
        assert r.status_code == 403
        assert ADMIN_COOKIE not in client.cookies
        assert 'type="password"' in client.get("/admin").text  # still the login form

        r = client.post(
            "/admin/login", data={"csrf": csrf, "password": "correct horse"}, follow_redirects=False
        )
        assert r.status_code == 303
        assert client.post("/admin/models", data=add, follow_redirects=False).status_code == 303
        r = client.post(
            "/admin/models", data={"csrf": csrf, "action": "paused", "name": "m1"}, follow_redirects=False
        )
        assert r.status_code == 303
        admin = client.get("/admin").text
        assert str(escape(HOSTILE_NAME)) in admin
        assert_inert(admin)
        # an error that echoes the hostile name is escaped too
        r = client.post("/admin/models", data=add, headers={"HX-Request": "true"}, follow_redirects=False)
        assert r.status_code == 409
        assert_inert(r.text)
        assert "&lt;img" in r.text
