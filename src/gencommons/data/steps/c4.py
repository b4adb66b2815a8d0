"""``c4_quality``: the line and page rules of C4 (Raffel et al. 2020, Section 2.2).

https://arxiv.org/abs/1910.10683. Lines are cleaned, then pages judged on what is left:

1. Each line (``str.splitlines()``, stripped) is removed when it has a word (whitespace-separated)
   longer than ``max_word_length``; Wikipedia citation marks (``[1]``, ``[edit]``,
   ``[citation needed]``) are cut from it; it is removed when it does not end in terminal
   punctuation (``. ? ! " '``, not ``...``) or has fewer than ``min_words_per_line`` words.
2. Among the lines still there: "lorem ipsum" (any case) drops the page; a line with "javascript" is
   removed; a ``{`` in a remaining line drops the page; a line with a cookie or terms-of-use phrase
   is removed.
3. The kept lines, joined by ``\\n``, become the document's text (the ``text`` score column). The
   page is dropped when they hold fewer than ``min_num_sentences`` sentences, or when they contain a
   word of the LDNOOBW bad-words list (``resources/ldnoobw``, matched as whole lowercase words;
   ``ja``, ``th`` and ``zh`` lists match anywhere, as in C4).

This is the order of C4's own code (TFDS ``c4_utils.clean_page``) and of datatrove's
``C4QualityFilter``, which is why lorem ipsum and ``{`` are only looked for in lines that survive step
1: a page is not dropped for a ``{`` in a line that was removed anyway. Every rule has a switch.

Differences from datatrove 0.10 (``C4QualityFilter`` followed by ``C4BadWordsFilter``):

* Sentences: datatrove runs spaCy's rule-based sentencizer on each kept line. We count, per line,
  1 plus the sentence ends followed by more text, where a sentence end is ``!``, ``?`` or another
  Unicode sentence terminal, or a ``.`` that is not part of ``..``, not inside a word (``3.14``) and
  not after an abbreviation (``Mr.``, ``e.g.``, ``U.S.``, a single letter); a run of them is one end.
  Vectorized regexes, no tokenizer. On the shared corpus (20,560 documents) the two tools decide
  alike on 99.94% of documents (bad words off, as datatrove's ``C4QualityFilter`` has none) and the
  cleaned text is identical for every document both keep.
* Whitespace is Unicode White_Space (Python also splits on U+001C..U+001F).
* When a page has both "lorem ipsum" and ``{``, the reason is ``lorem_ipsum``; datatrove names
  whichever line comes first.
* Bad words: one list per step (``bad_words_lang``), not per document language; entries are
  lowercased (datatrove's upper-case Spanish entries never match); datatrove's C4 ``en`` list is
  the older ``en-c4``.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
from pydantic import Field, field_validator

from gencommons.data.step import StepParams, filter_step
from gencommons.data.steps import text_stats as ts

PAPER = "https://arxiv.org/abs/1910.10683"
BAD_WORDS_DIR = Path(__file__).parent / "resources" / "ldnoobw"
# Languages written without spaces: their bad words match inside words (C4 does the same).
NO_SPACE_LANGS = ("ja", "th", "zh")
# Entries C4 allows because they are common parts of ordinary words in these languages.
BAD_WORDS_ALLOWED = {"ja": {"sm", "グロ", "女の子"}, "zh": {"性"}}

CITATION = r"\[\d*\]|\[edit\]|\[citation needed\]"
END_PUNCT = r"[.?!\"']$"
POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")

# Periods that end no sentence: an abbreviation's (spaCy keeps these inside the token).
ABBREVIATION = (
    r"\b(?:\p{L}\.)+"  # single letters: "A.", "e.g.", "U.S."
    r"|\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|Mt|vs|Inc|Ltd|Co|Corp|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\."
)
_TERMINAL = r"[\p{Sentence_Terminal}&&[^.]]"  # ! ? and the other scripts' terminals
_SP = rf"[{ts.WS}\p{{P}}]"  # whitespace or punctuation: tokens that start no sentence
# A sentence end followed by more text: "." (not "..", not "3.14") or a run of other terminals, then
# whitespace or punctuation, then something else.
SENTENCE_BREAK = rf"(?:(?:^|[^.])\.{_TERMINAL}*[{ts.WS}\p{{P}}&&[^.]]|{_TERMINAL}+){_SP}*[^{ts.WS}\p{{P}}]"


def available_bad_words_langs() -> list[str]:
    return sorted(p.stem for p in BAD_WORDS_DIR.glob("*.txt") if not p.stem.startswith("LICENSE"))


class C4QualityParams(StepParams):
    filter_no_terminal_punct: bool = Field(
        True, description="Remove lines not ending in . ? ! \" ' (or ending in ...)."
    )
    min_words_per_line: int = Field(3, description="Remove lines with fewer whitespace-separated words.")
    max_word_length: int | None = Field(
        1000, ge=1, description="Remove lines with a longer word; null = no limit."
    )
    remove_citations: bool = Field(True, description="Cut [1], [edit] and [citation needed] from lines.")
    filter_javascript: bool = Field(True, description="Remove lines containing 'javascript' (any case).")
    filter_policy: bool = Field(
        True, description="Remove lines with cookie, privacy-policy or terms-of-use phrases."
    )
    filter_lorem_ipsum: bool = Field(
        True, description="Drop pages with 'lorem ipsum' (any case) in a kept line."
    )
    filter_curly_bracket: bool = Field(True, description="Drop pages with '{' in a kept line.")
    min_num_sentences: int = Field(5, description="Drop pages whose kept lines hold fewer sentences.")
    filter_bad_words: bool = Field(True, description="Drop pages whose kept text contains a listed bad word.")
    bad_words_lang: str = Field(
        "en", description="Which bundled LDNOOBW list: en, en-c4 (C4's), de, fr, ja, ..."
    )
    bad_words_file: str | None = Field(
        None, description="A bad-words file (one per line) used instead of the bundled list."
    )

    @field_validator("bad_words_lang")
    @classmethod
    def check_lang(cls, v: str) -> str:
        langs = available_bad_words_langs()
        if v not in langs:
            raise ValueError(f"no bundled bad-words list {v!r}; available: {', '.join(langs)}")
        return v


@functools.lru_cache(maxsize=16)
def bad_words_pattern(path: str, lang: str) -> str | None:
    """The regex that finds a bad word of the list at ``path`` in lowercase text (None: empty list)."""
    with open(path, encoding="utf-8") as fh:
        words = {w.strip().lower() for w in fh} - {""} - BAD_WORDS_ALLOWED.get(lang, set())
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    if lang in NO_SPACE_LANGS:
        return alternatives
    return rf"(?:^|\W)(?:{alternatives})(?:\W|$)"


def count_sentences(lines: pl.Series) -> pl.Series:
    """Sentences in each line (at least 1; see the module docstring for what ends one)."""
    plain = lines.str.replace_all(ABBREVIATION, "A")
    return plain.str.count_matches(SENTENCE_BREAK).cast(pl.Int64) + 1


def _join(pieces: pl.Series, doc: np.ndarray, n_docs: int) -> pl.Series:
    """Join each document's pieces with "\\n" (documents without pieces get "")."""
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(np.bincount(doc, minlength=n_docs), out=offsets[1:])
    lists = pa.LargeListArray.from_arrays(pa.array(offsets), pieces.cast(pl.String).to_arrow())
    joined = pl.Series("text", lists).list.join("\n")
    return joined.str.strip_chars()


def c4_scores(text: pl.Series, p: C4QualityParams) -> pl.DataFrame:
    """The ``c4_quality`` score columns of a Series of texts (see :func:`c4_quality`)."""
    n_docs = len(text)
    lines = ts.splitlines(ts.normalize_newlines(text))
    line = lines.values.str.strip_chars()
    n_words = line.str.count_matches(rf"[^{ts.WS}]+").to_numpy()
    ok = n_words >= p.min_words_per_line
    if p.max_word_length is not None:
        long = (line.str.len_chars() > p.max_word_length).to_numpy()
        if long.any():  # only a line that long can hold a word that long
            idx = np.flatnonzero(long)
            words = line.gather(idx).str.extract_all(rf"[^{ts.WS}]+")
            longest = words.list.eval(pl.element().str.len_chars()).list.max().fill_null(0)
            ok[idx[(longest > p.max_word_length).to_numpy()]] = False
    if p.remove_citations:
        line = line.str.replace_all(CITATION, "")
    if p.filter_no_terminal_punct:
        ok &= (line.str.contains(END_PUNCT) & ~line.str.ends_with("...")).to_numpy()
    low = line.str.to_lowercase()
    none = np.zeros(len(ok), dtype=bool)
    lorem = ok & low.str.contains("lorem ipsum", literal=True).to_numpy()
    javascript = low.str.contains("javascript", literal=True).to_numpy() if p.filter_javascript else none
    curly = ok & ~javascript & line.str.contains("{", literal=True).to_numpy()
    policy = low.str.contains("|".join(POLICY)).to_numpy() if p.filter_policy else none
    kept = ok & ~javascript & ~policy

    sentences = np.zeros(n_docs, dtype=np.int64)
    kept_lines = line.filter(pl.Series(kept))
    kept_doc = lines.doc[kept]
    if len(kept_lines):
        sentences = np.bincount(kept_doc, weights=count_sentences(kept_lines).to_numpy(), minlength=n_docs)
    new_text = _join(kept_lines, kept_doc, n_docs)

    pattern = bad_words_pattern(
        p.bad_words_file or str(BAD_WORDS_DIR / f"{p.bad_words_lang}.txt"), p.bad_words_lang
    )
    bad = (
        new_text.str.to_lowercase().str.contains(pattern).to_numpy()
        if pattern
        else np.zeros(n_docs, dtype=bool)
    )
    return pl.DataFrame(
        {
            "text": new_text,
            "c4_lines": lines.counts,
            "c4_lines_kept": np.bincount(kept_doc, minlength=n_docs).astype(np.int64),
            "c4_sentences": sentences.astype(np.int64),
            "c4_lorem_ipsum": np.bincount(lines.doc, weights=lorem, minlength=n_docs) > 0,
            "c4_curly_bracket": np.bincount(lines.doc, weights=curly, minlength=n_docs) > 0,
            "c4_bad_words": bad,
        }
    )


@filter_step(
    "c4_quality",
    params=C4QualityParams,
    rules=[
        ("lorem_ipsum", lambda p: pl.col("c4_lorem_ipsum") if p.filter_lorem_ipsum else pl.lit(False)),
        ("curly_bracket", lambda p: pl.col("c4_curly_bracket") if p.filter_curly_bracket else pl.lit(False)),
        ("too_few_sentences", lambda p: pl.col("c4_sentences") < p.min_num_sentences),
        ("bad_words", lambda p: pl.col("c4_bad_words") if p.filter_bad_words else pl.lit(False)),
    ],
    thresholds=["filter_lorem_ipsum", "filter_curly_bracket", "min_num_sentences", "filter_bad_words"],
    paper=PAPER,
)
def c4_quality(batch: pa.Table, p: C4QualityParams) -> pl.DataFrame:
    """Keep only C4's clean lines of each page, then drop pages that are too short or unclean.

    Returns the cleaned ``text`` and the scores ``c4_lines`` and ``c4_lines_kept`` (lines before and
    after cleaning), ``c4_sentences`` (sentences in the kept lines), ``c4_lorem_ipsum`` and
    ``c4_curly_bracket`` (found in a kept line) and ``c4_bad_words`` (a listed word in the kept text).

    Example:
        >>> import pyarrow as pa
        >>> page = "Menu\\nThe cat sat on the mat. It was happy.\\nWe use cookies on this site."
        >>> c4_quality.measure(pa.table({"text": [page]}), C4QualityParams())["text"].to_list()
        ['The cat sat on the mat. It was happy.']
    """
    return c4_scores(ts.texts(batch), p)
