"""Rate limits: battles + votes per user and per IP over any minute answer 429 with a message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gencommons.arena.app import RateLimiter, create_app
from gencommons.arena.config import ArenaConfig
from gencommons.arena.store import ArenaError


def test_limiter_window() -> None:
    lim = RateLimiter(3)
    for _ in range(3):
        lim.check("u", "ip")
    with pytest.raises(ArenaError, match="Too many requests"):
        lim.check("other-user", "ip")  # the same IP: over its limit
    RateLimiter(0).check("u")  # 0: no limit


def test_app_answers_429(tmp_path: Path) -> None:
    cfg = ArenaConfig(
        database=f"sqlite:///{tmp_path / 'a.db'}",
        secret_file=str(tmp_path / "secret"),
        models=[
            {"name": "m1", "endpoint": "http://127.0.0.1:9/v1"},
            {"name": "m2", "endpoint": "http://127.0.0.1:9/v1"},
        ],
        max_actions_per_minute=5,
    )
    with TestClient(create_app(cfg)) as c:
        csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/").text).group(1)  # type: ignore[union-attr]
        c.post("/consent", data={"csrf": csrf, "agree": "yes"})
        csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/").text).group(1)  # type: ignore[union-attr]
        codes = [
            c.post("/battle", data={"csrf": csrf, "prompt": ""}, headers={"HX-Request": "1"}).status_code
            for _ in range(7)
        ]
        assert codes == [400] * 5 + [429] * 2  # empty prompts are refused, and still count
        r = c.post("/battle", data={"csrf": csrf, "prompt": "hi"}, headers={"HX-Request": "1"})
        assert r.status_code == 429
        assert "wait a minute" in r.text
