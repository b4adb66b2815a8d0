"""Rate limits: battles + votes per user and per IP over any minute answer 429 with a message."""

from __future__ import annotations

from pathlib import Path

import pytest
from arena_http import consent, offline_config
from fastapi.testclient import TestClient

from gencommons.arena.app import RateLimiter, create_app
from gencommons.arena.store import ArenaError


def test_limiter_window() -> None:
    lim = RateLimiter(3)
    for _ in range(3):
        lim.check("u", "ip")
    with pytest.raises(ArenaError, match="Too many requests"):
        lim.check("other-user", "ip")  # the same IP: over its limit
    RateLimiter(0).check("u")  # 0: no limit


def test_app_answers_429(tmp_path: Path) -> None:
    cfg = offline_config(tmp_path, max_actions_per_minute=5)
    with TestClient(create_app(cfg)) as c:
        csrf = consent(c, share=False)
        codes = [
            c.post("/battle", data={"csrf": csrf, "prompt": ""}, headers={"HX-Request": "1"}).status_code
            for _ in range(7)
        ]
        assert codes == [400] * 5 + [429] * 2  # empty prompts are refused, and still count
        r = c.post("/battle", data={"csrf": csrf, "prompt": "hi"}, headers={"HX-Request": "1"})
        assert r.status_code == 429
        assert "wait a minute" in r.text
