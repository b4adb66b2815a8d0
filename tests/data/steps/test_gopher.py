"""gopher_quality and gopher_repetition: each rule on hand-made documents, the vectorized scores
against a per-document pure-Python reference of the same definitions, and real documents."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from gencommons.data.step import FilterStep, steps
from gencommons.data.steps import gopher
from gencommons.data.steps import text_stats as ts
from gencommons.data.steps.gopher import GopherQualityParams, GopherRepetitionParams

WS_CHARS = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)

PROSE = (
    "The history of the town goes back to the twelfth century, when a small group of farmers settled "
    "along the river. They built houses with stone walls and wooden roofs, and they traded grain with "
    "the merchants who came up the valley every spring. Over the years the settlement grew into a "
    "market town that attracted craftsmen, teachers and travellers from distant regions."
)

PLAIN = PROSE.replace(",", "").replace(".", "")


def _fired(step: FilterStep, text: str, **params: Any) -> set[str]:
    """Every rule that fires on the document (not only the first)."""
    p = step.params(**params)
    scores = step.measure(pa.table({"text": [text]}), p)
    return {suffix for suffix, rule in step.rules if scores.select(rule(p).fill_null(False)).item()}


def _reason(step: FilterStep, texts: list[str], **params: Any) -> list[str | None]:
    p = step.params(**params)
    scores = step.measure(pa.table({"text": texts}), p)
    return scores.select(step.reason_expr(p)).to_series().to_list()


def test_registered() -> None:
    assert steps["gopher_quality"] is gopher.gopher_quality
    assert steps["gopher_repetition"] is gopher.gopher_repetition
    assert "stop_words" not in gopher.gopher_quality.thresholds


# ---------------------------------------------------------------------------- tokens


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Hello, world!", ["Hello", ",", "world", "!"]),
        ("(see http://x.com/a?b=c).", ["(", "see", "http://x.com/a?b=c", ")", "."]),
        (
            "e-mail and/or a=b 1,000 a,b 3.14",
            ["e", "-", "mail", "and/or", "a", "=", "b", "1,000", "a", ",", "b", "3.14"],
        ),
        ("word[1] /usr/bin --verbose in-8", ["word[1", "]", "/usr", "/", "bin", "--verbose", "in-8"]),
        ("2020-01-01 10km", ["2020", "-", "01", "-", "01", "10", "km"]),
        ("ok... yes…no ....", ["ok", "...", "yes", "…", "no", "...."]),
        (
            "Mr. Smith, U.S. and e.g. etc.",
            ["Mr\u2024", "Smith", ",", "U.S\u2024", "and", "e.g\u2024", "etc", "."],
        ),
        ("“Hi,” she said. ©2020 😀", ["“", "Hi", ",", "”", "she", "said", ".", "©", "2020", "😀"]),
        ("\n  \t", []),
    ],
)
def test_tokens(text: str, tokens: list[str]) -> None:
    assert ts.tokenize(pl.Series([text])).values.to_list() == tokens


def test_split_forms() -> None:
    words = ["don't", "it’s", "John's", "im", "havent", "cannot", "word", "its", "O'Neil"]
    split = [bool(regex.search(ts.SPLIT_TEST, w)) for w in words]
    assert split == [True, True, True, True, True, True, False, False, False]
    first = pl.Series(words[:6]).str.replace(ts.SPLIT_PATTERN, ts.SPLIT_FIRST).to_list()
    assert first == ["do", "it", "John", "i", "have", "can"]


def test_group_keys_finds_repeats_within_documents_only() -> None:
    keys = np.array([5, 7, 5, 5, 7, 1], dtype=np.uint64)
    doc = np.array([0, 0, 0, 1, 1, 1])
    first, size, group = ts.group_keys(keys, doc)
    assert first.tolist() == [True, True, False, True, True, True]
    assert size.tolist() == [2, 1, 2, 1, 1, 1]
    assert group[0] == group[2]
    assert len(set(group.tolist())) == 5


def test_group_keys_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ts, "_CHUNK", 4)  # every document sorted on its own, one is longer than a chunk
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 3, 40).astype(np.uint64)
    doc = np.repeat(np.arange(5), [3, 9, 1, 20, 7])
    first, size, _ = ts.group_keys(keys, doc)
    for d in range(5):
        k = keys[doc == d].tolist()
        assert first[doc == d].tolist() == [k.index(x) == i for i, x in enumerate(k)]
        assert size[doc == d].tolist() == [k.count(x) for x in k]


# ---------------------------------------------------------------------------- gopher_quality rules


QUALITY_CASES = [
    ("too_few_words", "The cat and the dog sat with me.", {}),
    ("too_many_words", PROSE, {"max_doc_words": 40}),
    ("mean_word_length", "to be or not to be, that is it, he said to me and we all go as we do. " * 6, {}),
    ("mean_word_length", "extraordinarily incomprehensible characteristically " * 20 + "the and with", {}),
    ("hash_ratio", PROSE + " " + "#tag " * 10, {}),
    ("ellipsis_ratio", " ... ".join(PLAIN.split(" a")) + " ... it ... is ... so ... The end", {}),
    ("bullet_lines", "\n".join("• " + s for s in PROSE.split(". ")), {}),
    ("ellipsis_lines", "\n".join(s + " ..." for s in PROSE.split(". ")[:2]) + "\n" + PROSE, {}),
    ("alpha_words", PROSE + " " + " ".join(str(1000 + i) for i in range(60)), {}),
    ("stop_words", "Farmers settled along rivers " + "houses were built from stone wood clay " * 8 + ".", {}),
]


@pytest.mark.parametrize(("rule", "text", "params"), QUALITY_CASES)
def test_quality_rule_fires_alone(rule: str, text: str, params: dict[str, Any]) -> None:
    assert _fired(gopher.gopher_quality, text, **params) == {rule}
    assert _reason(gopher.gopher_quality, [text], **params) == [f"gopher_quality:{rule}"]


def test_quality_prose_passes() -> None:
    assert _fired(gopher.gopher_quality, PROSE) == set()
    assert _reason(gopher.gopher_quality, [PROSE, PROSE.replace("the ", "")]) == [None, None]


def test_quality_scores_by_hand() -> None:
    text = "The dog's bone.\n- It isn't #1...\n- OK"
    row = gopher.gopher_quality.measure(pa.table({"text": [text]}), GopherQualityParams()).row(0, named=True)
    # tokens: The dog's bone . - It isn't # 1 ... - OK, and dog's and isn't count twice (spaCy: dog 's,
    # is n't): 14 tokens, 9 of them words (22 characters), 8 with a letter
    assert row["gopher_word_count"] == 9
    assert row["gopher_mean_word_length"] == pytest.approx(22 / 9)
    assert row["gopher_hash_ratio"] == pytest.approx(1 / 14)
    assert row["gopher_ellipsis_ratio"] == pytest.approx(1 / 14)
    assert row["gopher_alpha_words_ratio"] == pytest.approx(8 / 14)
    assert row["gopher_bullet_lines_ratio"] == pytest.approx(2 / 3)
    assert row["gopher_ellipsis_lines_ratio"] == pytest.approx(1 / 3)
    assert row["gopher_stop_words"] == 0  # "The" is not "the"


def test_quality_empty_and_whitespace() -> None:
    scores = gopher.gopher_quality.measure(pa.table({"text": ["", "  \n\t ", None]}), GopherQualityParams())
    assert scores["gopher_word_count"].to_list() == [0, 0, 0]
    assert scores.select(pl.all().is_nan().any()).row(0) == (False,) * scores.width
    assert _reason(gopher.gopher_quality, ["", " "]) == ["gopher_quality:too_few_words"] * 2


def test_quality_thresholds_can_be_disabled() -> None:
    p = {k: None for k in gopher.gopher_quality.thresholds}
    assert _fired(gopher.gopher_quality, "", **p) == set()


# ---------------------------------------------------------------------------- gopher_repetition rules

LINES = [s.strip() + "." for s in PROSE.split(".") if s.strip()]
SHORT = ["Home.", "About us.", "Contact.", "Prices.", "Opening hours.", "Directions."]

# Repetition rules imply one another (a repeated paragraph is made of repeated lines and n-grams), so
# each case switches off the rules its document cannot avoid tripping too.
NO_NGRAMS: dict[str, Any] = {"top_n_grams": {}, "dup_n_grams": {}}
REPETITION_CASES = [
    ("dup_para_frac", "\n".join(LINES) + "\n\nThanks.\n\nThanks.", {}),
    (
        "dup_para_char_frac",
        "\n\n".join(LINES) + "\n\n" + PROSE + "\n\n" + PROSE,
        {"dup_line_char_frac": None, **NO_NGRAMS},
    ),
    ("dup_line_frac", "\n".join([*LINES, "Home", "Home", "Home", "Home"]), {}),
    (
        "dup_line_char_frac",
        "\n".join([*LINES, *SHORT, LINES[0], LINES[1]]),
        {"dup_para_char_frac": None, **NO_NGRAMS},
    ),
    ("top_2_gram", " ".join(f"buy now {i}" for i in range(20)), {}),
    ("top_3_gram", PROSE + " " + "ab cd ef " * 30, {"top_n_grams": {3: 0.18}, "dup_n_grams": {}}),
    ("top_4_gram", PROSE + " " + "ab cd ef gh " * 30, {"top_n_grams": {4: 0.16}, "dup_n_grams": {}}),
    ("dup_5_gram", PROSE + " " + " ".join(PROSE.split()[:30]), {"top_n_grams": {}, "dup_n_grams": {5: 0.15}}),
    (
        "dup_10_gram",
        PROSE + " " + " ".join(PROSE.split()[:25]),
        {"top_n_grams": {}, "dup_n_grams": {10: 0.1}},
    ),
]


@pytest.mark.parametrize(("rule", "text", "params"), REPETITION_CASES)
def test_repetition_rule_fires_alone(rule: str, text: str, params: dict[str, Any]) -> None:
    assert _fired(gopher.gopher_repetition, text, **params) == {rule}
    assert _reason(gopher.gopher_repetition, [text], **params) == [f"gopher_repetition:{rule}"]


def test_repetition_prose_passes() -> None:
    assert _fired(gopher.gopher_repetition, PROSE + "\n\n" + PROSE.upper()) == set()


def test_repetition_scores_by_hand() -> None:
    text = "a b a b\n\na b a b\nc"
    row = gopher.gopher_repetition.measure(pa.table({"text": [text]}), GopherRepetitionParams()).row(
        0, named=True
    )
    assert row["gopher_dup_para_frac"] == 0.0  # "a b a b" and "a b a b\nc"
    assert row["gopher_dup_line_frac"] == pytest.approx(1 / 3)  # lines: "a b a b" x2, "c"
    assert row["gopher_dup_line_char_frac"] == pytest.approx(7 / len(text))
    # tokens a b a b a b a b c: "a b" occurs 4 times (3 chars each with its space)
    assert row["gopher_top_2_gram_char_frac"] == pytest.approx(4 * 3 / len(text))
    # 5-grams: "a b a b a" at 0, "b a b a b" at 1, then "a b a b a" again at 2 -> counted (5 chars), jump to 7
    assert row["gopher_dup_5_gram_char_frac"] == pytest.approx(5 / len(text))


def test_repetition_params_validate_sizes() -> None:
    with pytest.raises(ValidationError, match=r"2\.\.10"):
        GopherRepetitionParams(top_n_grams={1: 0.2})
    assert GopherRepetitionParams(dup_n_grams={"6": 0.2}).dup_n_grams == {6: 0.2}


def test_repetition_empty_and_whitespace() -> None:
    scores = gopher.gopher_repetition.measure(
        pa.table({"text": ["", " \n\n ", None]}), GopherRepetitionParams()
    )
    assert scores.select(pl.all().is_nan().any()).row(0) == (False,) * scores.width
    # " \n\n " is two lines " " (one repeated), as datatrove counts them
    assert _reason(gopher.gopher_repetition, ["", " \t ", " \n\n "]) == [
        None,
        None,
        "gopher_repetition:dup_line_frac",
    ]


def test_walk_compiled_and_python_agree() -> None:
    rng = np.random.default_rng(1)
    pos = np.sort(rng.choice(500, 200, replace=False)).astype(np.int64)
    group = rng.integers(0, 30, 200).astype(np.int64)
    expected = gopher._walk(pos, group, 5, 30)
    assert expected.any()
    assert (gopher.walker()(pos, group, 5, 30) == expected).all()


# ---------------------------------------------------------------------------- reference


def _py_template(template: str) -> str:
    return re.sub(r"\$\{(\d+)\}", r"\\g<\1>", template)


def ref_tokens(text: str) -> list[str]:
    text = regex.sub(ts.ABBREVIATION_PATTERN, "\\g<1>\\g<2>\u2024\\g<3>", text)
    for _ in range(2):
        text = regex.sub(ts.INFIX_PATTERN, _py_template(ts.INFIX_TEMPLATE), text)
    return regex.findall(ts.TOKEN_PATTERN, text)


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def ref_quality(text: str, stop_words: tuple[str, ...] = gopher.STOP_WORDS) -> dict[str, float]:
    tokens = words = chars = alpha = 0
    stops: set[str] = set()
    for t in ref_tokens(text):
        split = regex.search(ts.SPLIT_PATTERN, t) is not None
        first = regex.sub(ts.SPLIT_PATTERN, _py_template(ts.SPLIT_FIRST), t) if split else t
        is_word = regex.search(ts.WORD_CHAR, t) is not None
        tokens += 1 + split
        words += is_word + split
        chars += len(t) if is_word else 0
        alpha += (regex.search(r"\p{L}", first) is not None) + split
        if first in stop_words:
            stops.add(first)
    lines = text.splitlines()
    return {
        "gopher_word_count": words,
        "gopher_mean_word_length": _ratio(chars, words),
        "gopher_hash_ratio": _ratio(text.count("#"), tokens),
        "gopher_ellipsis_ratio": _ratio(text.count("...") + text.count("…"), tokens),
        "gopher_bullet_lines_ratio": _ratio(
            sum(s.lstrip(WS_CHARS).startswith(("•", "-")) for s in lines), len(lines)
        ),
        "gopher_ellipsis_lines_ratio": _ratio(
            sum(s.rstrip(WS_CHARS).endswith(("...", "…")) for s in lines), len(lines)
        ),
        "gopher_alpha_words_ratio": _ratio(alpha, tokens),
        "gopher_stop_words": len(stops),
    }


def _repeats(items: list[str]) -> tuple[int, int]:
    seen: set[str] = set()
    n = c = 0
    for x in items:
        if x in seen:
            n, c = n + 1, c + len(x)
        seen.add(x)
    return n, c


def _walk_chars(words: list[str], n: int) -> int:
    seen: set[tuple[str, ...]] = set()
    i = chars = 0
    while i + n <= len(words):
        gram = tuple(words[i : i + n])
        if gram in seen:
            chars += sum(map(len, gram))
            i += n
        else:
            seen.add(gram)
            i += 1
    return chars


def ref_repetition(
    text: str, top: tuple[int, ...] = (2, 3, 4), dup: tuple[int, ...] = (5, 6, 7, 8, 9, 10)
) -> dict[str, float]:
    size = len(text)
    paras = re.split(r"\n{2,}", text.strip(WS_CHARS))
    lines = re.split(r"\n+", text)
    (pn, pc), (ln, lc) = _repeats(paras), _repeats(lines)
    out = {
        "gopher_dup_para_frac": _ratio(pn, len(paras)),
        "gopher_dup_para_char_frac": _ratio(pc, size),
        "gopher_dup_line_frac": _ratio(ln, len(lines)),
        "gopher_dup_line_char_frac": _ratio(lc, size),
    }
    words = ref_tokens(text)
    for n in top:
        grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
        best = 0
        if grams:
            gram, count = Counter(grams).most_common(1)[0]  # ties: the n-gram seen first
            best = len(" ".join(gram)) * count
        out[f"gopher_top_{n}_gram_char_frac"] = _ratio(best, size)
    for n in dup:
        out[f"gopher_dup_{n}_gram_char_frac"] = _ratio(_walk_chars(words, n), size)
    return out


def _assert_rows_equal(actual: pl.DataFrame, expected: list[dict[str, float]]) -> None:
    assert len(actual) == len(expected)
    for i, (row, ref) in enumerate(zip(actual.iter_rows(named=True), expected, strict=True)):
        for k, v in ref.items():
            assert row[k] == pytest.approx(v, rel=1e-12, abs=1e-12), (i, k, row[k], v)


# Characters that make the definitions work: scripts, marks, every kind of whitespace and line break,
# punctuation that tokenization treats specially, symbols, a few words and separators that repeat.
ALPHABET = (
    "abcdeABCDE xyz XYZ 0123456789 \t\n\n\n\r\x0b\x0c\x85\xa0\u2028\u3000 éßÄñЖжλ日本語中文한\u0301"
    ".,;:!?'\"-–—()[]{}<>/=+*^#@&%$_~|`…“”‘’«»•·¡¿，。、©°€→😀"
)
WORDS = [
    "the",
    "of",
    "and",
    "cat",
    "Mr.",
    "e-mail",
    "don't",
    "x",
    "1,000",
    "...",
    "#",
    "•",
    "-",
    "http://a.b/c",
    "im",
]
SEPARATORS = [" ", " ", " ", "\n", "\n\n", ", ", ". ", "\r\n", "  "]

texts = st.one_of(
    st.text(alphabet=ALPHABET, max_size=300),
    st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), max_size=120).map(
        lambda xs: "".join(w + s for w, s in xs)
    ),
    st.sampled_from(["", " ", "\n", "\n\n \t", "x" * 3000, "word " * 500, ("a b c d e f g h " * 40).strip()]),
)
batches = st.lists(texts, min_size=1, max_size=8)
HYPOTHESIS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@HYPOTHESIS
@given(batches)
def test_quality_matches_reference(batch: list[str]) -> None:
    scores = gopher.gopher_quality.measure(pa.table({"text": batch}), GopherQualityParams())
    _assert_rows_equal(scores, [ref_quality(t) for t in batch])


@HYPOTHESIS
@given(batches)
def test_repetition_matches_reference(batch: list[str]) -> None:
    scores = gopher.gopher_repetition.measure(pa.table({"text": batch}), GopherRepetitionParams())
    _assert_rows_equal(scores, [ref_repetition(t) for t in batch])


# ---------------------------------------------------------------------------- real documents


def _real_docs(shared_data: Path, per_file: int = 15) -> list[str]:
    out = []
    for path in sorted((shared_data / "text").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                if i >= per_file:
                    break
                out.append(json.loads(line)["text"])
    if not out:
        pytest.skip("no shared text corpus")
    return out


def test_real_documents_match_reference(shared_data: Path) -> None:
    docs = _real_docs(shared_data)
    batch = pa.table({"text": pa.array(docs, pa.large_string())})
    _assert_rows_equal(
        gopher.gopher_quality.measure(batch, GopherQualityParams()), [ref_quality(t) for t in docs]
    )
    _assert_rows_equal(
        gopher.gopher_repetition.measure(batch, GopherRepetitionParams()), [ref_repetition(t) for t in docs]
    )


def test_real_english_prose_passes(shared_data: Path) -> None:
    docs = [t for t in _real_docs(shared_data, per_file=400) if t.startswith("Chapter") or " the " in t[:400]]
    reasons = _reason(gopher.gopher_quality, docs)
    assert sum(r is None for r in reasons) > len(docs) // 2


@pytest.mark.parametrize("name", ["gopher_quality", "gopher_repetition", "c4_quality", "fineweb_quality"])
def test_docstring_example_runs(name: str) -> None:
    import doctest
    import importlib

    step = steps[name]
    module = importlib.import_module(step.measure.__module__)
    test = doctest.DocTestParser().get_doctest(step.doc, vars(module).copy(), name, None, 0)
    runner = doctest.DocTestRunner()
    runner.run(test)
    assert runner.summarize(verbose=False) == (0, 3)
