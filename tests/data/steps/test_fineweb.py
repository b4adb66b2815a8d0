"""fineweb_quality: each rule on hand-made pages, the vectorized step against a per-document
pure-Python reference of the same definitions, and real pages."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gencommons.data.step import steps
from gencommons.data.steps import fineweb
from gencommons.data.steps.fineweb import FineWebQualityParams

WS_CHARS = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)
PROSE = [
    "The museum opened its doors in the spring of last year.",
    "Visitors can see paintings, sculptures and old maps.",
    "Guided tours start every hour from the main hall.",
    "The cafe on the top floor serves lunch and cakes.",
    "Tickets are cheaper for students and children!",
]


def _fired(text: str, **params: Any) -> set[str]:
    p = FineWebQualityParams(**params)
    scores = fineweb.fineweb_quality.measure(pa.table({"text": [text]}), p)
    return {s for s, rule in fineweb.fineweb_quality.rules if scores.select(rule(p).fill_null(False)).item()}


def test_registered() -> None:
    assert steps["fineweb_quality"] is fineweb.fineweb_quality
    assert "short_line_length" not in fineweb.fineweb_quality.thresholds


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ("line_punct_ratio", "\n".join(s.rstrip(".!") + " and more words here" for s in PROSE)),
        ("short_line_ratio", "\n".join([PROSE[0], "Home.", "About us.", "Contact.", "Prices."])),
        ("char_dup_ratio", "\n".join([*PROSE, PROSE[0]])),
    ],
)
def test_rule_fires_alone(rule: str, text: str) -> None:
    assert _fired(text) == {rule}


def test_prose_passes_and_blank_lines_do_not_count() -> None:
    assert _fired("\n".join(PROSE)) == set()
    spaced = "\n  \n".join(PROSE) + "\n\n\n"
    row = fineweb.fineweb_quality.measure(pa.table({"text": [spaced]}), FineWebQualityParams()).row(
        0, named=True
    )
    assert row["fineweb_lines"] == 5
    assert row["fineweb_line_punct_ratio"] == 1.0


def test_thresholds_and_exclude_zero() -> None:
    text = "\n".join(s.rstrip(".!") + " and more words here" for s in PROSE)
    assert _fired(text, line_punct_exclude_zero=True) == set()
    assert _fired("\n".join([*PROSE, PROSE[0]]), char_duplicates_ratio=0.5) == set()
    assert _fired("\n".join(PROSE), short_line_length=100) == {"short_line_ratio"}


def test_empty_and_whitespace() -> None:
    scores = fineweb.fineweb_quality.measure(
        pa.table({"text": ["", " \n\t\n", None]}), FineWebQualityParams()
    )
    assert scores["fineweb_lines"].to_list() == [0, 0, 0]
    assert scores["fineweb_char_dup_ratio"].to_list() == [0.0, 0.0, 0.0]
    assert _fired("") == {"line_punct_ratio"}  # datatrove drops it too (as "empty")


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def ref_fineweb(text: str, short_line_length: int = 30) -> dict[str, Any]:
    lines = [line for line in text.split("\n") if line.strip(WS_CHARS)]
    seen: set[str] = set()
    dup_chars = 0
    for line in lines:
        if line in seen:
            dup_chars += len(line)
        seen.add(line)
    return {
        "fineweb_line_punct_ratio": _ratio(
            sum(bool(regex.search(fineweb.LINE_END_PUNCT, s)) for s in lines), len(lines)
        ),
        "fineweb_short_line_ratio": _ratio(sum(len(s) <= short_line_length for s in lines), len(lines)),
        "fineweb_char_dup_ratio": _ratio(dup_chars, len(text.replace("\n", ""))),
        "fineweb_lines": len(lines),
    }


PARTS = ["Home", "The cat sat on the mat", "x" * 35, "日本語です", " ", "\t", "é"]
ENDS = [".", "!", "?", "'", '"', "。", "", " ", ".\r", "…", "؟"]
lines = st.tuples(st.sampled_from(PARTS), st.sampled_from(ENDS)).map("".join)
pages = st.one_of(
    st.lists(lines, max_size=15).map("\n".join),
    st.text(alphabet="ab .!?'\"\n\r\t 。…é", max_size=200),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(pages, min_size=1, max_size=6), st.integers(0, 40))
def test_matches_reference(batch: list[str], short: int) -> None:
    scores = fineweb.fineweb_quality.measure(
        pa.table({"text": batch}), FineWebQualityParams(short_line_length=short)
    )
    expected = [ref_fineweb(t, short) for t in batch]
    for row, ref in zip(scores.iter_rows(named=True), expected, strict=True):
        assert row == pytest.approx(ref, rel=1e-12, abs=1e-12)


def test_real_pages_match_reference(shared_data: Path) -> None:
    docs = []
    for path in sorted((shared_data / "text").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            docs += [json.loads(line)["text"] for _, line in zip(range(20), fh, strict=False)]
    if not docs:
        pytest.skip("no shared text corpus")
    scores = fineweb.fineweb_quality.measure(
        pa.table({"text": pa.array(docs, pa.large_string())}), FineWebQualityParams()
    )
    for row, ref in zip(scores.iter_rows(named=True), [ref_fineweb(t) for t in docs], strict=True):
        assert row == pytest.approx(ref, rel=1e-12, abs=1e-12)
