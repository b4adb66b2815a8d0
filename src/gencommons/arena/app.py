"""The arena web app (FastAPI, server-rendered Jinja2 pages, htmx, one vendored static file).

Pages: ``/`` (consent, then the battle page), ``/leaderboard``, ``/me`` (download / delete my data),
``/admin``. Fragments for htmx: ``POST /battle`` (a prompt: a new battle or the next turn),
``GET /battle/{id}/stream/{turn}`` (server-sent events with both answers as they are generated),
``POST /battle/{id}/vote``, ``POST /battle/{id}/retry``. Every POST checks the CSRF token; every page
escapes model answers and user text (Jinja2 autoescaping; streamed text is inserted as text, never HTML).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, TimestampSigner, URLSafeSerializer
from sqlalchemy.orm import Session

from gencommons.arena import classify, i18n, store
from gencommons.arena.config import CONSENT_VERSION, ArenaConfig
from gencommons.arena.db import make_engine, sessions, upgrade
from gencommons.arena.live import Live
from gencommons.arena.moderation import REFUSAL, moderate
from gencommons.arena.privacy import (
    check_csrf,
    csrf_token,
    ip_hash,
    load_secret,
    new_user_id,
    verify_password,
)
from gencommons.arena.sampler import sample_pair
from gencommons.arena.store import ArenaError

log = logging.getLogger(__name__)
HERE = os.path.dirname(__file__)
SESSION_COOKIE = "arena_session"
ADMIN_COOKIE = "arena_admin"
LANG_COOKIE = "arena_lang"
VISITOR_COOKIE = "arena_visitor"  # before consent: a random id that only keys the CSRF token
MAX_BODY = 64 * 1024  # bytes per request; prompts are limited further by max_prompt_chars
VOTE_LABELS = {
    "model_a": "A is better",
    "model_b": "B is better",
    "tie": "Tie",
    "tie (bothbad)": "Both are bad",
}
VOTE_KEYS = {"model_a": "1", "model_b": "2", "tie": "3", "tie (bothbad)": "4"}


class RateLimiter:
    """At most ``per_minute`` battles + votes per user and per IP address over any 60 s (in memory, per
    server process; 0 turns it off)."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self.hits: dict[str, list[float]] = {}

    def check(self, *keys: str | None) -> None:
        if not self.per_minute:
            return
        now = time.monotonic()
        for key in (k for k in keys if k):
            recent = [t for t in self.hits.get(key, []) if now - t < 60.0]
            if len(recent) >= self.per_minute:
                self.hits[key] = recent
                raise ArenaError(
                    "Too many requests: please wait a minute before the next battle or vote.", 429
                )
            recent.append(now)
            self.hits[key] = recent
        if len(self.hits) > 100_000:  # forget idle keys
            self.hits = {k: v for k, v in self.hits.items() if now - v[-1] < 60.0}


class Arena:
    """What the app holds: config, database sessions, the signing key, model backends, live turns."""

    def __init__(
        self, cfg: ArenaConfig, *, migrate: bool = True, backend_factory: Callable[..., Any] | None = None
    ):
        self.cfg = cfg
        if migrate:
            upgrade(cfg.database)
        self.engine = make_engine(cfg.database)
        self.Session = sessions(self.engine)
        self.secret = load_secret(cfg.secret_key_env, cfg.secret_file)
        self.signer = URLSafeSerializer(self.secret, salt="arena-session")
        self.admin_signer = TimestampSigner(self.secret, salt="arena-admin")
        password = os.environ.get(cfg.admin_password_env)
        from gencommons.arena.privacy import hash_password

        self.admin_hash = hash_password(password) if password else None
        self.rng = random.Random(cfg.seed)
        self.backends: dict[str, Any] = {}
        self.backend_factory = backend_factory
        self.live = Live()
        self.leaderboard_cache: dict[tuple[str | None, str | None, bool], tuple[float, Any]] = {}
        self.limiter = RateLimiter(cfg.max_actions_per_minute)
        self.samplers: dict[str, tuple[float, Any]] = {}
        with self.Session() as s:
            store.sync_models(s, [(m.name, m.endpoint, m.model) for m in cfg.models])
            for t in store.unfinished_turns(s):  # a previous server stopped mid-answer
                for side in ("a", "b"):
                    if getattr(t, f"state_{side}") in ("pending", "streaming"):
                        setattr(t, f"state_{side}", "error")
                        setattr(t, f"error_{side}", "The server restarted while answering; retry.")
            s.commit()

    def pick_pair(self, s: Session, active: list[str], language: str | None) -> tuple[str, str]:
        """The informative sampler of the prompt's language (its votes), refitted from the database at
        most every ``sampler_refit_s`` seconds and updated after each vote in between."""
        from gencommons.arena.sampler import InformativeSampler

        key = language or ""
        state = self.samplers.get(key)
        if (
            state is None
            or time.monotonic() - state[0] > self.cfg.sampler_refit_s
            or set(active) - set(state[1].models)
        ):
            models = sorted({m.name for m in store.list_models(s)})
            sampler = InformativeSampler(models)
            votes = store.rating_votes(s, language=language)
            index = sampler.index
            history = [
                (
                    index[v["model_a"]],
                    index[v["model_b"]],
                    {"model_a": 1.0, "model_b": 0.0}.get(str(v["winner"]), 0.5),
                )
                for v in votes
                if v["model_a"] in index and v["model_b"] in index
            ]
            if history:
                sampler.refit(history)
            state = (time.monotonic(), sampler)
            self.samplers[key] = state
        return state[1].pick(self.rng, active)

    def voted(self, battle: Any) -> None:
        for key in {battle.language or "", ""}:
            state = self.samplers.get(key)
            if state is not None and battle.model_a in state[1].index and battle.model_b in state[1].index:
                state[1].update(battle.model_a, battle.model_b)

    def backend(self, name: str) -> Any:
        if name not in self.backends:
            with self.Session() as s:
                m = store.list_models(s)
                entry = next((x for x in m if x.name == name), None)
            if entry is None:
                raise ArenaError(f"No model named {name!r}.", 404)
            conf = next((x for x in self.cfg.models if x.name == name), None)
            api_key = os.environ.get(conf.api_key_env) if conf and conf.api_key_env else None
            if self.backend_factory is not None:
                self.backends[name] = self.backend_factory(
                    entry.endpoint, model=entry.remote_model, api_key=api_key
                )
            else:
                from gencommons.backends.factory import backend_from_spec

                options: dict[str, Any] = {"model": entry.remote_model}
                if "://" in entry.endpoint:
                    options |= {"api_key": api_key, "timeout": self.cfg.request_timeout_s}
                self.backends[name] = backend_from_spec(entry.endpoint, **options)
        return self.backends[name]

    def close(self) -> None:
        for b in self.backends.values():
            try:
                b.close()
            except Exception:
                log.exception("closing a backend failed")
        self.engine.dispose()


def create_app(
    cfg: ArenaConfig, *, migrate: bool = True, backend_factory: Callable[..., Any] | None = None
) -> FastAPI:
    arena = Arena(cfg, migrate=migrate, backend_factory=backend_factory)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await arena.live.close()
        arena.close()

    app = FastAPI(title=cfg.title, lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.arena = arena
    templates = Jinja2Templates(directory=os.path.join(HERE, "templates"))  # autoescape on for .html
    app.mount("/static", StaticFiles(directory=os.path.join(HERE, "static")), name="static")

    app.add_middleware(_BodyLimit, limit=MAX_BODY)  # bodies sent without a Content-Length (chunked) too

    @app.middleware("http")
    async def limits_and_headers(request: Request, call_next: Callable[..., Any]) -> Response:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY:
            return _fragment_or_json(request, f"The request is too large (over {MAX_BODY // 1024} KB).", 413)
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.exception_handler(ArenaError)
    async def arena_error(request: Request, exc: ArenaError) -> Response:
        return _fragment_or_json(request, str(exc), exc.status)

    def page(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        user_id = _user_id(arena, request)
        visitor = None if user_id else _visitor(request)
        lang = i18n.negotiate(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
        response = templates.TemplateResponse(
            request,
            name,
            {
                "_": i18n.translator(lang),
                "lang": lang,
                "languages": i18n.LANGUAGES,
                "title": cfg.title,
                "csrf": csrf_token(arena.secret, user_id or f"visitor:{visitor}"),
                "user_id": user_id,
                "vote_labels": VOTE_LABELS,
                "vote_keys": VOTE_KEYS,
                **ctx,
            },
            status_code=status,
        )
        if visitor is not None and request.cookies.get(VISITOR_COOKIE) != visitor:
            # SameSite=Strict: a form posted from another site arrives without it, so its token fails
            response.set_cookie(
                VISITOR_COOKIE,
                visitor,
                httponly=True,
                samesite="strict",
                secure=cfg.https_only_cookies,
                max_age=24 * 3600,
            )
        return response

    def require_csrf(request: Request, token: str | None) -> None:
        user_id = _user_id(arena, request)
        visitor = request.cookies.get(VISITOR_COOKIE)
        key = user_id or (f"visitor:{visitor}" if visitor and _VISITOR.fullmatch(visitor) else None)
        token = token or request.headers.get("x-csrf-token")
        if key is None or not check_csrf(arena.secret, key, token):
            raise ArenaError("The form expired or did not come from this site; reload the page.", 403)

    def require_user(request: Request, s: Session) -> str:
        user_id = _user_id(arena, request)
        if not user_id or store.get_user(s, user_id) is None:
            raise ArenaError("Please accept the terms first (reload the page).", 401)
        return user_id

    # -- consent and battle page -----------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        with arena.Session() as s:
            user = store.get_user(s, _user_id(arena, request))
            if user is None:
                return page(request, "consent.html", consent_version=CONSENT_VERSION)
            models = [m.name for m in store.list_models(s, status="active")]
        return page(request, "battle.html", models=models, max_chars=cfg.max_prompt_chars)

    @app.post("/consent")
    def consent(
        request: Request, csrf: str = Form(""), agree: str = Form(""), share: str = Form("")
    ) -> Response:
        require_csrf(request, csrf)
        if agree != "yes":
            raise ArenaError("You need to accept the terms to use the arena.")
        user_id = new_user_id()
        with arena.Session() as s:
            store.create_user(s, user_id, consent_version=CONSENT_VERSION, share_prompts=share == "yes")
        response = RedirectResponse("/", status_code=303)
        _set_session(arena, response, user_id)
        return response

    @app.post("/battle", response_class=HTMLResponse)
    async def ask(
        request: Request,
        csrf: str = Form(""),
        prompt: str = Form(""),
        battle_id: str = Form(""),
        mode: str = Form("battle"),
        model_a: str = Form(""),
        model_b: str = Form(""),
    ) -> Response:
        require_csrf(request, csrf)
        arena.limiter.check(_user_id(arena, request), _client_ip(request))
        prompt = prompt.strip()
        if not prompt:
            raise ArenaError("Type a prompt first.")
        if len(prompt) > cfg.max_prompt_chars:
            raise ArenaError(
                f"The prompt is too long ({len(prompt):,} characters; at most {cfg.max_prompt_chars:,})."
            )
        if mode not in ("battle", "side_by_side", "single"):
            raise ArenaError("Unknown mode.")
        hashed = ip_hash(arena.secret, _client_ip(request), rotation_days=cfg.ip_salt_rotation_days)
        refused = moderate(prompt, cfg.moderation)

        def db_work() -> tuple[Any, Any, list[Any]]:
            with arena.Session() as s:
                user_id = require_user(request, s)
                if refused:
                    store.record_refusal(
                        s, user_id=user_id, stage="prompt", rule=refused, battle_id=battle_id or None
                    )
                    raise ArenaError(REFUSAL, 422)
                if battle_id:
                    battle = store.get_battle(s, battle_id, user_id)
                    turn = store.add_turn(s, battle, prompt, max_turns=cfg.max_turns)
                else:
                    active = [m.name for m in store.list_models(s, status="active")]
                    lang = classify.language(prompt)
                    pair: tuple[str, str | None]
                    if mode == "battle" and cfg.sampler == "informative":
                        pair = arena.pick_pair(s, active, lang)
                    else:
                        pair = _choose(mode, active, model_a, model_b, arena.rng)
                    a, b = pair
                    battle, turn = store.create_battle(
                        s,
                        user_id=user_id,
                        mode=mode,
                        model_a=a,
                        model_b=b,
                        ip_hash=hashed,
                        prompt=prompt,
                        language=lang,
                        category=classify.category(prompt),
                    )
                return battle, turn, store.turns_of(s, battle.id)

        battle, turn, turns = await asyncio.to_thread(db_work)
        _start_generation(arena, battle, turn, turns)
        return page(request, "_battle.html", battle=battle, turns=turns, live_turn=turn.idx)

    @app.post("/battle/{battle_id}/retry", response_class=HTMLResponse)
    async def retry(request: Request, battle_id: str, csrf: str = Form("")) -> Response:
        require_csrf(request, csrf)

        def db_work() -> tuple[Any, Any, list[Any]]:
            with arena.Session() as s:
                battle = store.get_battle(s, battle_id, require_user(request, s))
                turns = store.turns_of(s, battle.id)
                last = turns[-1]
                if battle.status != "open" or "error" not in (last.state_a, last.state_b):
                    raise ArenaError("Nothing to retry.", 409)
                for side in ("a", "b"):
                    if getattr(last, f"state_{side}") == "error":
                        setattr(last, f"state_{side}", "pending")
                        setattr(last, f"answer_{side}", "")
                        setattr(last, f"error_{side}", None)
                s.commit()
                return battle, last, turns

        battle, turn, turns = await asyncio.to_thread(db_work)
        _start_generation(arena, battle, turn, turns, only_pending=True)
        return page(request, "_battle.html", battle=battle, turns=turns, live_turn=turn.idx)

    @app.get("/battle/{battle_id}/stream/{idx}")
    async def stream(request: Request, battle_id: str, idx: int) -> Response:
        def db_work() -> tuple[Any, Any]:
            with arena.Session() as s:
                battle = store.get_battle(s, battle_id, require_user(request, s))
                turns = [t for t in store.turns_of(s, battle.id) if t.idx == idx]
                if not turns:
                    raise ArenaError("No such turn.", 404)
                return battle, turns[0]

        battle, turn = await asyncio.to_thread(db_work)
        live = arena.live.turns.get(turn.id)

        async def events() -> AsyncIterator[str]:
            if live is not None:
                async for kind, side, data in arena.live.listen(live):
                    yield _sse("failed" if kind == "error" else kind, {"side": side, "text": data})
            else:  # finished (or interrupted) before this listener came: replay from the database
                for side in ("a", "b") if battle.model_b else ("a",):
                    text = getattr(turn, f"answer_{side}")
                    if text:
                        yield _sse("text", {"side": side, "text": text})
                    err = getattr(turn, f"error_{side}")
                    if err:
                        yield _sse("failed", {"side": side, "text": err})
                    yield _sse("done", {"side": side, "text": ""})
            yield _sse("end", {})

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    @app.post("/battle/{battle_id}/vote", response_class=HTMLResponse)
    async def vote(
        request: Request, battle_id: str, csrf: str = Form(""), winner: str = Form("")
    ) -> Response:
        require_csrf(request, csrf)
        arena.limiter.check(_user_id(arena, request), _client_ip(request))
        hashed = ip_hash(arena.secret, _client_ip(request), rotation_days=cfg.ip_salt_rotation_days)

        def db_work() -> tuple[Any, Any]:
            with arena.Session() as s:
                battle = store.get_battle(s, battle_id, require_user(request, s))
                turns = store.turns_of(s, battle.id)
                if turns and "error" in (turns[-1].state_a, turns[-1].state_b):
                    raise ArenaError("One answer failed; retry it before voting.", 409)
                v = store.record_vote(s, battle, winner, ip_hash=hashed)
                return battle, v

        battle, v = await asyncio.to_thread(db_work)
        arena.leaderboard_cache.clear()
        if battle.mode == "battle":
            arena.voted(battle)
        return page(
            request, "_reveal.html", battle=battle, vote=v, categories=classify.CATEGORIES, saved=False
        )

    # -- leaderboard, my data, admin ---------------------------------------------------------------

    @app.post("/battle/{battle_id}/category", response_class=HTMLResponse)
    def set_category(
        request: Request, battle_id: str, csrf: str = Form(""), category: str = Form("")
    ) -> Response:
        require_csrf(request, csrf)
        with arena.Session() as s:
            battle = store.get_battle(s, battle_id, require_user(request, s))
            store.set_category(s, battle, category)
        arena.leaderboard_cache.clear()
        return page(request, "_category.html", battle=battle, categories=classify.CATEGORIES, saved=True)

    @app.get("/leaderboard", response_class=HTMLResponse)
    def leaderboard(request: Request, language: str = "", category: str = "", flagged: str = "") -> Response:
        board = _leaderboard(
            arena, language=language or None, category=category or None, include_flagged=flagged == "include"
        )
        with arena.Session() as s:
            by_language = store.votes_by(s, "language")
            by_category = store.votes_by(s, "category")
        return page(
            request,
            "leaderboard.html",
            board=board,
            by_language=by_language,
            by_category=by_category,
            min_slice=cfg.min_votes_per_slice,
        )

    @app.get("/leaderboard.json")
    def leaderboard_json(
        language: str = "", category: str = "", flagged: str = "", source: str = ""
    ) -> Response:
        if source == "thumbs":  # pairwise evidence from thumbs in single chats: its own board
            from gencommons.arena.board import leaderboard_table
            from gencommons.arena.incentives import thumbs_votes

            with arena.Session() as s:
                votes = thumbs_votes(s)
            return JSONResponse(
                leaderboard_table(votes, min_votes=cfg.min_votes, rounds=cfg.bootstrap_rounds)
            )
        board = _leaderboard(
            arena, language=language or None, category=category or None, include_flagged=flagged == "include"
        )
        return JSONResponse(board)

    @app.get("/me", response_class=HTMLResponse)
    def me(request: Request) -> Response:
        from gencommons.arena.incentives import voter_summary

        with arena.Session() as s:
            user_id = require_user(request, s)
            data = store.user_data(s, user_id)
            summary = voter_summary(s, user_id)
            user = store.get_user(s, user_id)
        return page(
            request, "me.html", data=data, summary=summary, display_name=user.display_name if user else None
        )

    @app.post("/me/name")
    def my_name(request: Request, csrf: str = Form(""), name: str = Form("")) -> Response:
        from gencommons.arena.incentives import set_display_name

        require_csrf(request, csrf)
        with arena.Session() as s:
            set_display_name(s, require_user(request, s), name)
        return RedirectResponse("/contributors", status_code=303)

    @app.get("/contributors", response_class=HTMLResponse)
    def contributors_page(request: Request) -> Response:
        from gencommons.arena.incentives import contributors

        with arena.Session() as s:
            board = contributors(s)
        return page(request, "contributors.html", board=board)

    @app.post("/battle/{battle_id}/thumbs", response_class=HTMLResponse)
    def thumbs(request: Request, battle_id: str, csrf: str = Form(""), value: int = Form(0)) -> Response:
        from gencommons.arena.incentives import set_thumbs

        require_csrf(request, csrf)
        with arena.Session() as s:
            battle = store.get_battle(s, battle_id, require_user(request, s))
            set_thumbs(s, battle, value)
        return HTMLResponse('<span role="status">' + ("👍" if value > 0 else "👎") + "</span>")

    @app.get("/me/data.json")
    def my_data(request: Request) -> Response:
        with arena.Session() as s:
            data = store.user_data(s, require_user(request, s))
        return JSONResponse(
            data, headers={"Content-Disposition": 'attachment; filename="my-arena-data.json"'}
        )

    @app.post("/me/delete")
    def delete_me(request: Request, csrf: str = Form(""), confirm: str = Form("")) -> Response:
        require_csrf(request, csrf)
        if confirm != "delete":
            raise ArenaError('Type "delete" to confirm.')
        with arena.Session() as s:
            counts = store.delete_user(s, require_user(request, s))
        response = page(request, "deleted.html", counts=counts)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @app.get("/admin", response_class=HTMLResponse)
    def admin(request: Request) -> Response:
        if not _is_admin(arena, request):
            return page(request, "admin_login.html", enabled=arena.admin_hash is not None)
        with arena.Session() as s:
            models = store.list_models(s)
            stats = store.vote_stats(s)
        return page(request, "admin.html", models=models, stats=stats)

    @app.post("/admin/login")
    def admin_login(request: Request, csrf: str = Form(""), password: str = Form("")) -> Response:
        require_csrf(request, csrf)
        if arena.admin_hash is None or not verify_password(password, arena.admin_hash):
            time.sleep(0.5)  # slow down guessing
            raise ArenaError("Wrong password.", 403)
        response = RedirectResponse("/admin", status_code=303)
        response.set_cookie(
            ADMIN_COOKIE,
            arena.admin_signer.sign(b"admin").decode(),
            httponly=True,
            samesite="strict",
            secure=cfg.https_only_cookies,
            max_age=8 * 3600,
        )
        return response

    @app.post("/admin/models")
    def admin_models(
        request: Request,
        csrf: str = Form(""),
        action: str = Form(""),
        name: str = Form(""),
        endpoint: str = Form(""),
        remote_model: str = Form(""),
    ) -> Response:
        require_csrf(request, csrf)
        if not _is_admin(arena, request):
            raise ArenaError("Log in as admin first.", 403)
        with arena.Session() as s:
            if action == "review":
                store.review_votes(s)
                arena.leaderboard_cache.clear()
            elif action == "add":
                store.add_model(s, name, endpoint, remote_model)
            elif action in ("active", "paused", "removed"):
                store.set_model_status(s, name, action)
                arena.backends.pop(name, None)
            else:
                raise ArenaError("Unknown action.")
        return RedirectResponse("/admin", status_code=303)

    @app.get("/lang")
    def switch_language(request: Request, code: str = "en") -> Response:
        """The language switch: remembered in a cookie; back to the page it came from (same site only)."""
        if code not in i18n.LANGUAGES:
            raise ArenaError(f"No interface in {code!r}; available: {', '.join(i18n.LANGUAGES)}.", 404)
        from urllib.parse import urlsplit

        back = urlsplit(request.headers.get("referer") or "/")
        path = (back.path or "/") + (f"?{back.query}" if back.query else "")
        response = RedirectResponse(
            path if path.startswith("/") and not path.startswith("//") else "/", status_code=303
        )
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
        return response

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


# -- helpers ------------------------------------------------------------------------------------------


class _BodyLimit:
    """Read a request's body before the app does and answer 413 once it passes ``limit`` bytes, whether
    or not the client announced its length (a chunked body has no Content-Length to check)."""

    def __init__(self, app: Any, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                message = f"The request is too large (over {self.limit // 1024} KB)."
                await _fragment_or_json(Request(scope), message, 413)(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if replayed:
                return await receive()  # http.disconnect, for streaming responses
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


_VISITOR = re.compile(r"[0-9a-f]{32}")


def _visitor(request: Request) -> str:
    """This visitor's pre-consent id (from the cookie, or a new random one)."""
    v = request.cookies.get(VISITOR_COOKIE)
    return v if v and _VISITOR.fullmatch(v) else new_user_id()


def _user_id(arena: Arena, request: Request) -> str | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        value = arena.signer.loads(raw)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def _set_session(arena: Arena, response: Response, user_id: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        arena.signer.dumps(user_id),
        httponly=True,
        samesite="lax",
        secure=arena.cfg.https_only_cookies,
        max_age=365 * 24 * 3600,
    )


def _is_admin(arena: Arena, request: Request) -> bool:
    raw = request.cookies.get(ADMIN_COOKIE)
    if not raw or arena.admin_hash is None:
        return False
    try:
        arena.admin_signer.unsign(raw, max_age=8 * 3600)
    except BadSignature:
        return False
    return True


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _choose(mode: str, active: list[str], a: str, b: str, rng: random.Random) -> tuple[str, str | None]:
    if mode == "battle":
        return sample_pair(active, rng)
    if mode == "side_by_side":
        if a not in active or b not in active or a == b:
            raise ArenaError("Choose two different models.")
        return a, b
    if a not in active:
        raise ArenaError("Choose a model.")
    return a, None


def _start_generation(
    arena: Arena, battle: Any, turn: Any, turns: list[Any], *, only_pending: bool = False
) -> None:
    from gencommons.backends.interface import GenerationParams

    params = GenerationParams(max_tokens=arena.cfg.max_tokens, temperature=arena.cfg.temperature)
    sides = {"a": battle.model_a, "b": battle.model_b}
    jobs: dict[str, Callable[[], AsyncIterator[str]]] = {}
    for side, name in sides.items():
        if name is None or (only_pending and getattr(turn, f"state_{side}") != "pending"):
            continue
        messages = []
        for t in turns:
            messages.append({"role": "user", "content": t.prompt})
            if t.idx < turn.idx:
                messages.append({"role": "assistant", "content": getattr(t, f"answer_{side}")})

        def job(name: str = name, messages: list[dict[str, str]] = messages) -> AsyncIterator[str]:
            return arena.backend(name).astream(messages, params)

        jobs[side] = job

    def save(side: str, text: str, state: str, error: str | None) -> None:
        with arena.Session() as s:
            store.save_answer(s, turn.id, side, text, state, error)
            flagged = moderate(text, arena.cfg.moderation) if text else None
            if flagged:
                store.record_refusal(
                    s, user_id=battle.user_id, stage="answer", rule=flagged, battle_id=battle.id
                )

    arena.live.start(turn.id, jobs, save)


def _leaderboard(
    arena: Arena, *, language: str | None = None, category: str | None = None, include_flagged: bool = False
) -> dict[str, Any]:
    key = (language, category, include_flagged)
    cached = arena.leaderboard_cache.get(key)
    if cached and time.monotonic() - cached[0] < arena.cfg.leaderboard_cache_s:
        return dict(cached[1])
    with arena.Session() as s:
        votes = store.rating_votes(s, language=language, category=category, include_excluded=include_flagged)
        flagged = store.flagged_count(s)
    from gencommons.arena.board import leaderboard_table

    if (language or category) and len(votes) < arena.cfg.min_votes_per_slice:
        # too few votes to rank this language/category: say so instead of printing noise
        board = leaderboard_table([], min_votes=arena.cfg.min_votes, rounds=0) | {
            "votes": len(votes),
            "too_few": True,
        }
    else:
        board = leaderboard_table(votes, min_votes=arena.cfg.min_votes, rounds=arena.cfg.bootstrap_rounds)
    board |= {
        "language": language,
        "category": category,
        "include_flagged": include_flagged,
        "flagged": flagged,
    }
    arena.leaderboard_cache[key] = (time.monotonic(), board)
    return board


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _fragment_or_json(request: Request, message: str, status: int) -> Response:
    if request.headers.get("hx-request") or "text/html" in request.headers.get("accept", ""):
        from html import escape

        return HTMLResponse(f'<p class="error" role="alert">{escape(message)}</p>', status_code=status)
    return JSONResponse({"error": message}, status_code=status)
