"""Moderation: a pluggable check on prompts (and answers) that refuses clearly harmful requests.

A check is a function ``text -> rule name | None``; ``checks`` is its registry (entry-point group
``gencommons.moderation``), and the arena config's ``moderation: [blocklist]`` lists the ones to run.
A refused prompt gets a clear message, no battle is created, and the refusal is recorded (rule, stage,
time, user — never the text) in ``arena_refusals``. Answers go through the same checks; a flagged
answer is recorded (the stream has already shown it; the vote can say "both bad").

The default ``blocklist`` is a short list of patterns for requests to hurt people (violence against a
person, weapons of mass harm, sexual content involving minors, self-harm methods). It is deliberately
narrow: keyword filters over-refuse ("how do I kill a Python process?"). Measured on XSTest (Röttger et
al. 2024; tests/arena/test_moderation.py): the share of its 200 unsafe prompts refused and of its 250
safe prompts wrongly refused are in the issue note. A learned classifier or an LLM guard plugs in as
another check.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from gencommons.registry import Registry

Check = Callable[[str], str | None]
checks: Registry[Check] = Registry("moderation check", package=None, group="gencommons.moderation")

_HOW = (
    r"\b(how (do|can|could|would|should|to)|ways? (of|to)|best way|steps? (to|for)|teach me|help me|plan)\b"
)
_PERSON = (
    r"\b(someone|somebody|people|persons?|a (man|woman|child|kid|girl|boy|baby|stranger)|my (wife|husband|ex|boss"
    r"|neighbou?r|teacher|father|mother|dad|mum|mom|sister|brother|friend|partner|roommate|colleague|tinder date|date)"
    r"|him|her|them|classmates?|coworkers?|children|kids|women|men|a body)\b"
)
_HARM = (
    r"\b(kill|murder|shoot|stab|poison|strangle|choke|throttle|suffocate|drown|behead|execute|torture|kidnap"
    r"|abduct|assault|attack|beat( up)?|hurt|maim|rape|terminate|liquidate|eliminate|take out|get rid of)\b"
)
RULES: dict[str, re.Pattern[str]] = {
    "violence_against_people": re.compile(rf"{_HOW}.{{0,40}}{_HARM}.{{0,30}}{_PERSON}", re.IGNORECASE),
    "violence_against_people_plan": re.compile(
        r"\b(plan|commit|carry out|get away with)\b.{0,20}\b(murder|kidnapping|massacre|shooting|terrorist attack|terrorism|assault)\b",
        re.IGNORECASE,
    ),
    "mass_harm_weapons": re.compile(
        r"\b(make|build|synthesi[sz]e|produce|create|manufacture|assemble|get)\b.{0,40}\b(bomb|explosives?|pipe bomb"
        r"|nerve agent|sarin|vx|ricin|anthrax|bioweapon|chemical weapon|dirty bomb|nuclear weapon)\b",
        re.IGNORECASE,
    ),
    "sexual_minors": re.compile(
        r"\b(child|children|minor|underage|kid|preteen|\d{1,2}[- ]?(year|yr)s?[- ]?old)\b.{0,40}\b(sex|sexual|porn|nude|naked|erotic)"
        r"|\b(sex|sexual|porn|nude|naked|erotic)\b.{0,40}\b(child|children|minor|underage|preteen)\b",
        re.IGNORECASE,
    ),
    "self_harm_method": re.compile(
        r"\b(how (do|can|could|should) i|best way to|ways to)\b.{0,30}\b(kill myself|end my life|commit suicide"
        r"|cut myself|hang myself|overdose|carve .{0,20} into my)\b",
        re.IGNORECASE,
    ),
}


@checks.register("blocklist")
def blocklist(text: str) -> str | None:
    """The first rule a text matches, or None."""
    for name, pattern in RULES.items():
        if pattern.search(text):
            return name
    return None


def moderate(text: str, names: list[str]) -> str | None:
    """Run the named checks in order; the first rule that fires (``check:rule``), or None."""
    for name in names:
        rule = checks[name](text)
        if rule:
            return f"{name}:{rule}"
    return None


REFUSAL = (
    "This request asks for something that could seriously hurt people, so the arena will not send it to "
    "the models. If you or someone else is in danger, please contact local emergency services."
)
