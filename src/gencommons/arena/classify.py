"""What a prompt is: its language (fastText lid.176, as the data pipeline) and its category (a rule).

Categories, first match wins (documented here, editable by the voter on the page):

* ``code``  — a fenced code block, or a line that reads as code (``def``/``class``/``import``/
  ``function``/``#include``/``SELECT … FROM``/``console.log``/``=>``/``{ … ;``), or a request naming a
  programming language or programming task (python, javascript, sql, regex, compile, bug, stack trace,
  function, script — in English, French, German, Spanish);
* ``math``  — LaTeX (``\\frac``, ``$…$``), an equation or arithmetic expression (digits around
  ``= + - * / ^``), or math words (solve, equation, integral, derivative, prove, probability, résoudre,
  équation, intégrale, Gleichung, ecuación, …);
* ``creative_writing`` — asks to write/compose a poem, story, song, haiku, lyrics, a script for a
  scene (and the same in French, German, Spanish: poème, histoire, Gedicht, Geschichte, poema, cuento);
* ``other`` — everything else.

The rule is deliberately simple and testable; a learned classifier can replace ``category`` (same
signature) without touching the rest.
"""

from __future__ import annotations

import re

CATEGORIES = ("code", "math", "creative_writing", "other")
MIN_LANGUAGE_SCORE = 0.4  # below this (very short or mixed prompts) the language is unknown

_CODE = re.compile(
    r"```|^\s*(def |class |import |from \S+ import |function |#include|public static|console\.log|SELECT .+ FROM )"
    r"|=>|\b(python|javascript|typescript|java|c\+\+|rust|golang|sql|regex|bash|html|css|compile[rd]?|bug|stack ?trace"
    r"|function|script|code|programm?(e|ing|ieren|ation|ación)?|código)\b",
    re.IGNORECASE | re.MULTILINE,
)
_MATH = re.compile(
    r"\\(frac|int|sum|sqrt)|\$[^$]+\$|\d\s*[=+\-*/^]\s*\d|\d\s*[=+\-*/^]\s*[a-z]\b"
    r"|\b(solve|equations?|integral|derivative|prove|probability|calculate|algebra|theorem"
    r"|résou\w*|équations?|intégrale|dérivée|probabilité|gleichung\w*|integral\w*|ableitung|wahrscheinlichkeit"
    r"|ecuaci[oó]n\w*|integral|derivada|probabilidad)\b",
    re.IGNORECASE,
)
_CREATIVE = re.compile(
    r"\b(write|compose|écri\w*|schreib\w*|escrib\w*)\b.{0,40}\b(poem|story|song|haiku|lyrics|limerick|sonnet|tale"
    r"|poème|histoire|chanson|conte|gedicht|geschichte|lied|märchen|poema|cuento|historia|canción)\b"
    r"|\b(poem|haiku|limerick|sonnet|poème|gedicht|poema)\b",
    re.IGNORECASE | re.DOTALL,
)


def category(text: str) -> str:
    """The category of a prompt by the rule in the module docstring."""
    if _CODE.search(text):
        return "code"
    if _MATH.search(text):
        return "math"
    if _CREATIVE.search(text):
        return "creative_writing"
    return "other"


def language(text: str) -> str | None:
    """ISO 639-1 code of the prompt's language, or None when unsure (short, mixed or letterless text)."""
    import polars as pl

    from gencommons.data.steps.language import identify

    langs, scores = identify(pl.Series([text]))
    return langs[0] if langs[0] and scores[0] >= MIN_LANGUAGE_SCORE else None
