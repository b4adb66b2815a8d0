"""Helpers for driving the arena over HTTP in tests (starlette's TestClient): config, consent, battles,
the answer stream."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripted_openai import ScriptedOpenAI

from gencommons.arena.config import ArenaConfig

CSRF_RE = re.compile(r'name="csrf" value="([0-9a-f]+)"')
STREAM_RE = re.compile(r'data-stream="/battle/([0-9a-f]+)/stream/(\d+)"')


def arena_config(tmp_path: Path, database: str, models: list[dict[str, Any]], **extra: Any) -> ArenaConfig:
    """A config for tests: the signing key in tmp_path, a seeded sampler, short answers and timeouts."""
    values: dict[str, Any] = {
        "database": database,
        "models": models,
        "secret_file": str(tmp_path / "arena-secret"),
        "seed": 0,
        "max_tokens": 12,
        "request_timeout_s": 1.0,
        "bootstrap_rounds": 10,
        "min_votes": 1,
        "leaderboard_cache_s": 0,
    }
    return ArenaConfig.model_validate(values | extra)


def offline_config(tmp_path: Path, names: tuple[str, ...] = ("m1", "m2"), **extra: Any) -> ArenaConfig:
    """A test config over SQLite in tmp_path whose models are never called (an unreachable endpoint):
    for tests that fill the database themselves or stop before any model answers."""
    models = [{"name": n, "endpoint": "http://127.0.0.1:9/v1"} for n in names]
    return arena_config(tmp_path, f"sqlite:///{tmp_path / 'a.db'}", models, **extra)


def csrf_of(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, f"no csrf field in {html[:300]!r}"
    return m.group(1)


def consent(client: Any, *, share: bool = True) -> str:
    """Accept the terms; return the CSRF token of the battle page."""
    page = client.get("/")
    assert page.status_code == 200
    assert "Before you start" in page.text
    form = {"csrf": csrf_of(page.text), "agree": "yes"} | ({"share": "yes"} if share else {})
    r = client.post("/consent", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    battle_page = client.get("/")
    assert battle_page.status_code == 200
    assert 'id="prompt"' in battle_page.text
    return csrf_of(battle_page.text)


def ask(client: Any, csrf: str, prompt: str, **form: str) -> tuple[str, int, str]:
    """Post a prompt (a new battle, or a follow-up with ``battle_id=``); return (battle id, turn, fragment)."""
    r = client.post("/battle", data={"csrf": csrf, "prompt": prompt, **form})
    assert r.status_code == 200, r.text
    m = STREAM_RE.search(r.text)
    assert m, r.text
    return m.group(1), int(m.group(2)), r.text


def parse_sse(raw: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in raw.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def stream(client: Any, battle_id: str, idx: int) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """Read a turn's whole event stream: (raw text, parsed events)."""
    r = client.get(f"/battle/{battle_id}/stream/{idx}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    return r.text, parse_sse(r.text)


def answers(events: list[tuple[str, dict[str, Any]]]) -> tuple[dict[str, str], dict[str, str]]:
    """(text per side, error message per side) of a stream's events."""
    text: dict[str, str] = {}
    failed: dict[str, str] = {}
    for kind, data in events:
        if kind == "text":
            text[data["side"]] = text.get(data["side"], "") + data["text"]
        elif kind == "failed":
            failed[data["side"]] = data["text"]
    return text, failed


@dataclass
class ArenaBackends:
    """Real model endpoints on loopback."""

    tiny: str  # gencommons serve over the tiny random Llama (http://127.0.0.1:PORT)
    tiny_model: str  # the model name that server answers to
    scripted: ScriptedOpenAI  # normal / hostile / slow / garbage answers
    down: str  # nothing listens there: connection refused

    def model(self, name: str, behaviour: str) -> dict[str, Any]:
        """A config entry ``{name, endpoint, model}`` for ``behaviour``: tiny, down, or a scripted one."""
        if behaviour == "tiny":
            return {"name": name, "endpoint": self.tiny, "model": self.tiny_model}
        if behaviour == "down":
            return {"name": name, "endpoint": self.down, "model": "nothing"}
        return {"name": name, "endpoint": self.scripted.endpoint(behaviour), "model": f"scripted-{behaviour}"}


@contextlib.contextmanager
def arena_process(folder: Path, config: dict[str, Any], env: dict[str, str] | None = None) -> Iterator[str]:
    """The real ``gencommons arena serve`` on a free port with ``config`` (written to ``folder/arena.yaml``),
    until the block ends; yields its base URL once ``/health`` answers."""
    import os
    import subprocess
    import sys
    import time

    import httpx
    import pytest
    import yaml
    from pg_cluster import free_port

    (folder / "arena.yaml").write_text(yaml.safe_dump(config))
    port = free_port()
    exe = Path(sys.executable).parent / "gencommons"
    log = (folder / "server.log").open("w")
    proc = subprocess.Popen(
        [str(exe), "arena", "serve", "--config", "arena.yaml", "--port", str(port)],
        cwd=folder,
        env=os.environ | (env or {}),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gencommons arena serve did not start:\n{(folder / 'server.log').read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
