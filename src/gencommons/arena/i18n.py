"""The arena's interface in several languages: gettext catalogs (``locale/<code>/LC_MESSAGES/arena.po``),
read with Babel, chosen per request from the ``arena_lang`` cookie (the language switch) or else the
browser's ``Accept-Language``.

Templates call ``_("English text")`` (``translator(code)``, bound per request); a string without a translation shows in English. To add a
language, copy ``locale/fr/LC_MESSAGES/arena.po``, translate its ``msgstr`` lines, and add the code
to ``LANGUAGES``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache

LANGUAGES = {"en": "English", "fr": "Français", "ru": "Русский"}
DEFAULT = "en"
LOCALE_DIR = os.path.join(os.path.dirname(__file__), "locale")


@cache
def catalog(code: str) -> dict[str, str]:
    """msgid -> msgstr of one language (empty for English, the source language)."""
    path = os.path.join(LOCALE_DIR, code, "LC_MESSAGES", "arena.po")
    if code == DEFAULT or not os.path.exists(path):
        return {}
    from babel.messages.pofile import read_po

    with open(path, "rb") as fh:
        cat = read_po(fh, locale=code)
    return {str(m.id): str(m.string) for m in cat if m.id and m.string}


def translator(code: str) -> Callable[[str], str]:
    """``_`` for the templates of one request."""
    table = catalog(code)
    return lambda message: table.get(message, message)


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The cookie's language when it is one of ours, else the best of ``Accept-Language``, else English."""
    if cookie in LANGUAGES:
        return str(cookie)
    best: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        code = tag.strip().lower().split("-")[0]
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if code in LANGUAGES and q > 0:
            best.append((-q, i, code))
    return min(best)[2] if best else DEFAULT
