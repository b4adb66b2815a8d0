"""The interface in English, French and Russian: catalogs complete, Accept-Language and the switch."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from arena_http import offline_config
from fastapi.testclient import TestClient

from gencommons.arena.app import create_app
from gencommons.arena.i18n import LANGUAGES, LOCALE_DIR, catalog, negotiate, translator

TEMPLATES = Path(LOCALE_DIR).parent / "templates"


def _template_messages() -> set[str]:
    found = set()
    for f in TEMPLATES.glob("*.html"):
        found |= set(re.findall(r'_\("((?:[^"\\]|\\.)*)"\)', f.read_text()))
    return found


@pytest.mark.parametrize("code", [c for c in LANGUAGES if c != "en"])
def test_every_template_string_is_translated(code: str) -> None:
    missing = _template_messages() - set(catalog(code))
    assert not missing, f"{code}: {sorted(missing)}"
    assert all(v.strip() for v in catalog(code).values())


def test_negotiation() -> None:
    assert negotiate(None, "fr-CH, fr;q=0.9, en;q=0.8") == "fr"
    assert negotiate(None, "de-DE,ru;q=0.5,en;q=0.4") == "ru"
    assert negotiate(None, "de, ja") == "en"
    assert negotiate("ru", "fr") == "ru"  # the switch wins
    assert negotiate("xx", "fr") == "fr"
    assert negotiate(None, None) == "en"
    assert translator("fr")("New battle") == "Nouveau duel"
    assert translator("en")("New battle") == "New battle"


def test_pages_follow_the_browser_and_the_switch(tmp_path: Path) -> None:
    cfg = offline_config(tmp_path)
    with TestClient(create_app(cfg)) as c:
        assert "Avant de commencer" in c.get("/", headers={"Accept-Language": "fr-FR,fr;q=0.9"}).text
        assert "Прежде чем начать" in c.get("/", headers={"Accept-Language": "ru"}).text
        page = c.get("/")
        assert "Before you start" in page.text
        assert '<html lang="en">' in page.text
        r = c.get(
            "/lang?code=ru",
            headers={"Referer": "http://testserver/leaderboard?language=fr"},
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert r.headers["location"] == "/leaderboard?language=fr"
        c.cookies.set("arena_lang", "ru")
        assert "Рейтинг" in c.get("/leaderboard").text
        assert c.get("/lang?code=xx").status_code == 404
