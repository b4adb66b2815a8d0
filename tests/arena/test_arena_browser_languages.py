"""Communities in their own language, in a real headless Chromium: switch the interface to French and to
Russian (a non-Latin script), vote in each, and see the per-language leaderboards count the votes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from arena_http import arena_process
from scripted_openai import ScriptedOpenAI
from test_arena_browser import browser, new_page, watch  # noqa: F401 - shared fixtures

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def arena_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("arena-languages")
    scripted = ScriptedOpenAI(chunk_delay=0.02).start()
    config = {
        "database": "sqlite:///arena.db",
        # arena names unlike the endpoint names the scripted answers quote (that would flag an identity reveal)
        "models": [
            {"name": "alpha", "endpoint": scripted.endpoint("normal"), "model": "bot-one"},
            {"name": "beta", "endpoint": scripted.endpoint("normal"), "model": "bot-two"},
        ],
        "max_tokens": 16,
        "seed": 3,
        "min_votes": 1,
        "min_votes_per_slice": 1,
        "bootstrap_rounds": 5,
        "leaderboard_cache_s": 0,
        "secret_file": str(folder / "secret"),
    }
    try:
        with arena_process(folder, config) as url:
            yield url
    finally:
        scripted.stop()


def _battle(page: Any, prompt: str, done: str, key: str, thanks: str) -> None:
    page.locator("#prompt").fill(prompt)
    page.locator("#ask button[type=submit]").click()
    page.get_by_text(done).wait_for(timeout=20_000)
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press(key)
    page.locator("#reveal").wait_for()
    assert thanks in page.locator("#reveal").inner_text()


def test_vote_in_french_and_russian(arena_url: str, new_page: Any) -> None:  # noqa: F811
    page = new_page(locale="fr-FR", extra_http_headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    problems = watch(page)
    page.goto(arena_url)
    assert page.get_by_role("heading", name="Avant de commencer").is_visible()  # from the browser's language
    assert page.locator("html").get_attribute("lang") == "fr"
    page.get_by_label("J’ai lu ceci et j’accepte").check()
    page.get_by_role("button", name="Commencer").click()
    page.get_by_label("Votre question").wait_for()
    _battle(
        page,
        "Quelle est la capitale de la France ? Réponds en une phrase, s'il te plaît.",
        "Les deux réponses sont complètes.",
        "1",
        "Merci ! Vous avez voté A est meilleur",
    )

    page.goto(arena_url)
    page.get_by_label("Langue").select_option("ru")  # the switch
    page.get_by_label("Ваш запрос").wait_for()
    assert page.locator("html").get_attribute("lang") == "ru"
    _battle(
        page,
        "Какая столица России? Ответь, пожалуйста, одним предложением.",
        "Оба ответа готовы.",
        "2",
        "Спасибо! Ваш голос: B лучше",
    )

    page.goto(f"{arena_url}/leaderboard?language=ru")
    assert page.get_by_role("heading").first.inner_text().startswith("Рейтинг")
    fr = httpx.get(f"{arena_url}/leaderboard.json?language=fr").json()
    ru = httpx.get(f"{arena_url}/leaderboard.json?language=ru").json()
    assert (fr["votes"], ru["votes"]) == (1, 1)
    assert {r["model"] for r in fr["rows"]} == {"alpha", "beta"}
    nav = " ".join(page.get_by_role("navigation", name="leaderboards").inner_text().split())
    assert "fr (1)" in nav
    assert "ru (1)" in nav
    assert "другое (2)" in nav  # category names translated too
    assert problems == []
