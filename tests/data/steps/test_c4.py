"""c4_quality: line cleaning and page rules on hand-made pages, the vectorized step against a
per-document pure-Python reference of the same definitions, the bad-words lists, and real pages."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from gencommons.data.step import steps
from gencommons.data.steps import c4
from gencommons.data.steps.c4 import C4QualityParams

WS_CHARS = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)
SENTENCES = "The museum opened its doors in the spring of last year.\nVisitors can see paintings, sculptures and old maps.\nGuided tours start every hour from the main hall.\nThe cafe on the top floor serves lunch and cakes.\nTickets are cheaper for students and children."


def _scores(texts: list[str], **params: Any) -> Any:
    return c4.c4_quality.measure(pa.table({"text": texts}), C4QualityParams(**params))


def _fired(text: str, **params: Any) -> set[str]:
    p = C4QualityParams(**params)
    scores = c4.c4_quality.measure(pa.table({"text": [text]}), p)
    return {suffix for suffix, rule in c4.c4_quality.rules if scores.select(rule(p).fill_null(False)).item()}


def _reasons(texts: list[str], **params: Any) -> list[str | None]:
    p = C4QualityParams(**params)
    scores = c4.c4_quality.measure(pa.table({"text": texts}), p)
    return scores.select(c4.c4_quality.reason_expr(p)).to_series().to_list()


def test_registered() -> None:
    assert steps["c4_quality"] is c4.c4_quality
    assert set(c4.c4_quality.thresholds) == {
        "filter_lorem_ipsum",
        "filter_curly_bracket",
        "min_num_sentences",
        "filter_bad_words",
    }


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ("lorem_ipsum", SENTENCES + "\nLorem ipsum dolor sit amet, consectetur."),
        ("curly_bracket", SENTENCES + "\nType {name} into the box to sign in."),
        ("too_few_sentences", "The museum opened its doors in the spring.\nVisitors can see paintings."),
        ("bad_words", SENTENCES + "\nWhat the fuck is going on here?"),
    ],
)
def test_page_rule_fires_alone(rule: str, text: str) -> None:
    assert _fired(text) == {rule}
    assert _reasons([text]) == [f"c4_quality:{rule}"]
    switch_off = {"min_num_sentences": 0} if rule == "too_few_sentences" else {f"filter_{rule}": False}
    assert _fired(text, **switch_off) == set()


def test_clean_page_passes_unchanged() -> None:
    assert _fired(SENTENCES) == set()
    assert _scores([SENTENCES])["text"].to_list() == [SENTENCES]


@pytest.mark.parametrize(
    ("line", "switch"),
    [
        ("Back to the homepage", "filter_no_terminal_punct"),
        ("Click here to read more...", "filter_no_terminal_punct"),
        ("Yes.", "min_words_per_line"),
        ("Please enable JavaScript to view this page.", "filter_javascript"),
        ("By using this site you agree to our Terms of Use.", "filter_policy"),
        ("This site uses cookies to improve your experience.", "filter_policy"),
        ("The word " + "x" * 1001 + " is too long.", "max_word_length"),
    ],
)
def test_line_removed_unless_switched_off(line: str, switch: str) -> None:
    page = SENTENCES + "\n" + line
    assert _scores([page])["text"].to_list() == [SENTENCES]
    off = {"min_words_per_line": 0, "max_word_length": None}.get(switch, False)
    assert _scores([page], **{switch: off})["text"].to_list() == [page]


def test_citations_are_cut_and_lines_stripped() -> None:
    page = "  The tower was built in 1889.[1]  \n" + SENTENCES
    out = _scores([page])["text"].item()
    assert out.splitlines()[0] == "The tower was built in 1889."
    assert _scores([page], remove_citations=False)["text"].item().splitlines() == SENTENCES.splitlines()


def test_lorem_and_curly_only_count_in_kept_lines() -> None:
    # both lines are removed (no final punctuation) before the page rules look at them, as in C4
    page = SENTENCES + "\nLorem ipsum dolor sit amet\nfunction() { return 1 }"
    assert _fired(page) == set()
    # a javascript line is removed before the bracket check
    assert _fired(SENTENCES + "\nThe javascript code {x} runs here.") == set()


@pytest.mark.parametrize(
    ("line", "n"),
    [
        ("The cat sat. It was happy.", 2),
        ("Mr. Smith went home. He slept.", 2),
        ("It costs 3.14 dollars. Really?", 2),
        ("Wait... what?", 1),
        ('He said: "Go." Then he left.', 2),
        ("Yes! No? Maybe.", 3),
        ("U.S. officials met in Washington.", 1),
        ("Read e.g. the manual.", 1),
        ("1. Install the package.", 2),
        ("日本語です。次の文です。", 2),
    ],
)
def test_sentence_count(line: str, n: int) -> None:
    assert c4.count_sentences(pl.Series([line])).item() == n


def test_bad_words_are_whole_words() -> None:
    pages = [
        SENTENCES + "\n" + x
        for x in ("Scunthorpe is a town in England.", "It is a classic class.", "So, fuck this, they said.")
    ]
    assert _scores(pages)["c4_bad_words"].to_list() == [False, False, True]


def test_bad_words_file_and_language(tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text("Zebra\nstriped horse\n", encoding="utf-8")
    pages = [SENTENCES + "\nA zebra ran by.", SENTENCES + "\nA striped horse ran by.", SENTENCES]
    assert _scores(pages, bad_words_file=str(words))["c4_bad_words"].to_list() == [True, True, False]
    # ja matches inside words; its allowed entries never match
    ja = _scores(
        ["これはエロティックです", "女の子です"],
        bad_words_lang="ja",
        min_words_per_line=0,
        filter_no_terminal_punct=False,
    )
    assert ja["c4_bad_words"].to_list() == [True, False]
    with pytest.raises(ValidationError, match="available"):
        C4QualityParams(bad_words_lang="xx")


def test_bundled_lists_and_licence() -> None:
    langs = c4.available_bad_words_langs()
    assert {"en", "en-c4", "de", "ja", "zh"} <= set(langs)
    assert len(langs) == 29
    folder = c4.BAD_WORDS_DIR
    assert (
        (folder / "LICENSE-CC-BY-4.0.txt")
        .read_text(encoding="utf-8")
        .startswith("Attribution 4.0 International")
    )
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "5faf2ba" in readme
    assert "CC-BY-4.0" in readme
    assert len((folder / "en.txt").read_text(encoding="utf-8").splitlines()) == 403


def test_empty_and_whitespace() -> None:
    scores = _scores(["", "  \n\t", None])  # type: ignore[list-item]
    assert scores["text"].to_list() == ["", "", ""]
    assert scores["c4_sentences"].to_list() == [0, 0, 0]
    assert _reasons(["", " "]) == ["c4_quality:too_few_sentences"] * 2


# ---------------------------------------------------------------------------- reference


def ref_c4(text: str, p: C4QualityParams) -> dict[str, Any]:
    kept: list[str] = []
    sentences = 0
    lorem = curly = False
    lines = text.splitlines()
    for raw in lines:
        line = raw.strip(WS_CHARS)
        words = [w for w in regex.split(f"[{WS_CHARS}]+", line) if w]
        if p.max_word_length is not None and any(len(w) > p.max_word_length for w in words):
            continue
        if p.remove_citations:
            line = regex.sub(c4.CITATION, "", line)
        if p.filter_no_terminal_punct and (
            not line.endswith((".", "?", "!", '"', "'")) or line.endswith("...")
        ):
            continue
        if len(words) < p.min_words_per_line:
            continue
        low = line.lower()
        lorem = lorem or "lorem ipsum" in low
        if p.filter_javascript and "javascript" in low:
            continue
        curly = curly or "{" in line
        if p.filter_policy and any(x in low for x in c4.POLICY):
            continue
        kept.append(line)
        sentences += 1 + len(
            regex.findall("(?V1)" + c4.SENTENCE_BREAK, regex.sub(c4.ABBREVIATION, "A", line))
        )
    new = "\n".join(kept).strip(WS_CHARS)
    pattern = c4.bad_words_pattern(str(c4.BAD_WORDS_DIR / f"{p.bad_words_lang}.txt"), p.bad_words_lang)
    return {
        "text": new,
        "c4_lines": len(lines),
        "c4_lines_kept": len(kept),
        "c4_sentences": sentences,
        "c4_lorem_ipsum": lorem,
        "c4_curly_bracket": curly,
        "c4_bad_words": bool(pattern and regex.search(pattern, new.lower())),
    }


LINE_PARTS = [
    "The cat sat on the mat",
    "Visit us",
    "lorem ipsum dolor",
    "JavaScript is off",
    "our privacy policy",
    "a {b} c",
    "Mr. Smith",
    "3.14",
    "[1]",
    "[edit]",
    "fuck",
    "Scunthorpe",
    "x" * 40,
    "é ñ 日本",
    "…",
    "U.S.",
]
ENDINGS = [".", "?", "!", '"', "'", "...", "", " ", ". Next one.", "!?", "[1]"]
BREAKS = ["\n", "\r\n", "\n\n", "\u2028", "\x0c", "\r"]
lines = st.tuples(
    st.lists(st.sampled_from(LINE_PARTS), min_size=0, max_size=6), st.sampled_from(ENDINGS)
).map(lambda x: " ".join(x[0]) + x[1])
pages = st.one_of(
    st.tuples(st.lists(lines, max_size=12), st.lists(st.sampled_from(BREAKS), min_size=12, max_size=12)).map(
        lambda x: "".join(line + br for line, br in zip(x[0], x[1], strict=False))
    ),
    st.text(alphabet="ab .?!\"'{}\n\r\t[]1 éÉ…", max_size=200),
    st.sampled_from(["", " ", "\n\n", "word " * 2000 + "."]),
)
params = st.fixed_dictionaries(
    {
        "filter_no_terminal_punct": st.booleans(),
        "min_words_per_line": st.integers(0, 4),
        "max_word_length": st.sampled_from([None, 5, 1000]),
        "remove_citations": st.booleans(),
        "filter_javascript": st.booleans(),
        "filter_policy": st.booleans(),
    }
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(pages, min_size=1, max_size=6), params)
def test_matches_reference(batch: list[str], kw: dict[str, Any]) -> None:
    p = C4QualityParams(**kw)
    scores = c4.c4_quality.measure(pa.table({"text": batch}), p)
    assert scores.to_dicts() == [ref_c4(t, p) for t in batch]


def test_real_pages_match_reference(shared_data: Path) -> None:
    docs = []
    for path in sorted((shared_data / "text").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            docs += [json.loads(line)["text"] for _, line in zip(range(20), fh, strict=False)]
    if not docs:
        pytest.skip("no shared text corpus")
    p = C4QualityParams()
    scores = c4.c4_quality.measure(pa.table({"text": pa.array(docs, pa.large_string())}), p)
    assert scores.to_dicts() == [ref_c4(t, p) for t in docs]
    assert 0 < sum(scores["c4_sentences"].to_numpy() >= 5) < len(docs)
