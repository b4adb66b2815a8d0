"""PII scrubbing of exports: recall per kind on a labelled sample, and no damage to texts without PII."""

from __future__ import annotations

import json
from pathlib import Path

from gencommons.arena.scrub import scrub

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "pii" / "labelled.jsonl"


def _recall() -> tuple[dict[str, tuple[int, int]], int, int]:
    records = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    scrubbed, _ = scrub([r["text"] for r in records])
    per_kind: dict[str, list[int]] = {}
    clean_kept = clean = 0
    for r, out in zip(records, scrubbed, strict=True):
        for kind, span in r["pii"]:
            hit = per_kind.setdefault(kind, [0, 0])
            hit[1] += 1
            hit[0] += span not in out
        if not r["pii"]:
            clean += 1
            clean_kept += out == r["text"]
    return {k: (v[0], v[1]) for k, v in per_kind.items()}, clean_kept, clean


def test_recall_per_kind_and_no_false_alarms() -> None:
    recall, clean_kept, clean = _recall()
    assert set(recall) == {"name", "email", "phone", "address", "ip"}
    for kind in ("email", "ip"):
        assert recall[kind][0] == recall[kind][1], (kind, recall[kind])
    assert recall["phone"][0] >= recall["phone"][1] - 1
    assert recall["address"][0] / recall["address"][1] >= 0.8
    assert recall["name"][0] / recall["name"][1] >= 0.75
    assert clean_kept == clean  # prompts without PII come out unchanged (Einstein, dates, versions)


def test_counts_and_placeholders() -> None:
    out, counts = scrub(
        ["Mail a@b.org, I'm Ana Silva, 10 Downing Street, +33 1 23 45 67 89, 8.8.8.8", "nothing"]
    )
    assert out[0] == "Mail <EMAIL>, I'm <NAME>, <ADDRESS>, <PHONE>, <IP>"
    assert out[1] == "nothing"
    assert counts == {"email": 1, "phone": 1, "ip": 1, "address": 1, "name": 1}
