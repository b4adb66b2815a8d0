"""Dated, de-duplicated evaluation sets of shared prompts, per language and category, PII-scrubbed."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from gencommons.arena import store
from gencommons.arena.config import ArenaConfig
from gencommons.arena.db import make_engine, sessions, upgrade
from gencommons.arena.prompts import export_prompts


def test_sets(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    upgrade(url)
    engine = make_engine(url)
    with sessions(engine)() as s:
        store.create_user(s, "sharer", consent_version="1", share_prompts=True)
        store.create_user(s, "private", consent_version="1", share_prompts=False)
        prompts = [
            ("sharer", "Write a poem about rain", "en", "creative_writing"),
            ("sharer", "write a  poem about RAIN", "en", "creative_writing"),  # a duplicate
            ("sharer", "Écris un poème, écris-moi à lea@example.fr", "fr", "creative_writing"),
            ("sharer", "Solve x + 1 = 2", "en", "math"),
            ("private", "My secret question", "en", "other"),
        ]
        for user, text, lang, cat in prompts:
            store.create_battle(
                s,
                user_id=user,
                mode="battle",
                model_a="a",
                model_b="b",
                ip_hash=None,
                prompt=text,
                language=lang,
                category=cat,
            )
    engine.dispose()
    m = export_prompts(ArenaConfig(database=url), str(tmp_path / "out"))
    assert m["sets"] == {"en/creative_writing": 1, "en/math": 1, "fr/creative_writing": 1}
    assert m["counts"]["pii_email"] == 1
    poems = [
        json.loads(x) for x in (tmp_path / "out" / "en" / "creative_writing.jsonl").read_text().splitlines()
    ]
    assert len(poems) == 1
    assert poems[0]["times_asked"] == 2
    assert poems[0]["first_seen"] == dt.datetime.now(dt.UTC).date().isoformat()
    fr = (tmp_path / "out" / "fr" / "creative_writing.jsonl").read_text()
    assert "<EMAIL>" in fr
    assert "lea@example.fr" not in fr
    assert "secret" not in "".join(p.read_text() for p in (tmp_path / "out").rglob("*.jsonl"))
    assert m["config"]["collected_until"] is not None
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    assert (
        export_prompts(ArenaConfig(database=url), str(tmp_path / "later"), since=tomorrow)["counts"][
            "prompts"
        ]
        == 0
    )
