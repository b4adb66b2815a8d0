"""Vectorized text statistics shared by the quality filters (``gopher``, ``c4``, ``fineweb``).

What lives here: how a batch of texts becomes flat arrays of lines, paragraphs and word tokens (one
polars Series of pieces plus the document each piece belongs to: no per-document Python), sums per
document over such flat arrays, and the sort-based duplicate finder that duplicated lines, paragraphs
and n-grams share. What does not: thresholds and rules, which belong to each step's module.

Definitions (the tests' pure-Python reference implements the same ones):

* **Whitespace** is Unicode ``White_Space`` (:data:`WS`, the regex ``\\s``). Python's ``str.split()``
  and ``str.strip()`` also count U+001C..U+001F as whitespace; we don't.
* **Lines** (:func:`splitlines`) are those of ``str.splitlines()``: ``\\n``, ``\\r\\n``, ``\\r`` and the
  other Unicode line breaks end a line, and a final line break does not start an empty line.
* **Tokens** (:func:`tokenize`) follow the rules of the tokenizer datatrove uses for English,
  spaCy's rule-based ``English`` tokenizer (datatrove 0.10), rewritten as regex passes. Text is cut
  at whitespace into chunks. Inside a chunk, only spaCy's infixes split (:data:`INFIX_PATTERN`: a
  hyphen, ``:`` ``<`` ``>`` ``=`` or ``/`` between a letter or digit and a letter, ``,`` between
  letters, ``-`` ``+`` ``*`` ``^`` between digits, ``.`` between a lower- and an upper-case letter,
  an ellipsis, a symbol such as ``©`` or an emoji, a unit after a number); a URL is never split.
  Punctuation at the start or end of a chunk (brackets, quotes, ``, ; : ! ? . % # * & _``,
  currency...) comes off one character at a time (:data:`TOKEN_PATTERN`). So ``word[1]`` is
  ``word[1`` + ``]``, ``/usr/bin`` is ``/usr`` ``/`` ``bin``, ``--verbose`` and ``in-8`` stay whole,
  ``e-mail`` and ``10km`` split. Abbreviations (``Mr.``, ``e.g.``, ``U.S.``, ``A.``) keep their
  period, written U+2024 in the token (:data:`ABBREVIATION_PATTERN`). Words spaCy splits in two
  (``don't``, ``it's``, ``cannot``) are one token here: :data:`SPLIT_PATTERN` lets counts add the
  second part. On the shared corpus (20,560 documents) the per-document token statistics of the two
  tokenizers differ by 0.1% (alphabetic-token ratio) and 0.02 characters (mean word length) on
  average. Not modelled: most of spaCy's exception list, and a second abbreviation right after
  another (``A. B.``: the second loses its period).
* A token is a **symbol** when every character is punctuation (Unicode ``P*``), a control character
  or an ASCII symbol (``$+<=>^`|~``); datatrove's hand-made list differs on a few characters
  (it counts ``•`` ``€`` ``©`` ``°`` as word characters and ``━`` ``►`` ``´`` as symbols).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

# Unicode White_Space, spelled out so that Python's `regex` (the tests' reference) and polars' Rust
# regex agree on it.
WS = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# What str.splitlines() ends a line on besides "\n".
LINE_BREAK = "\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]"

# spaCy's English punctuation classes (spacy/lang/punctuation.py, char_classes.py), abridged.
_QUOTES = "'\"”“`‘´’‚„»«「」『』（）〔〕【】《》〈〉⟦⟧"
_CURRENCY = "$£€¥฿₽﷼₠-₿"
_PUNCT = r",:;!?¿؟¡()\[\]{}<>_#*&。？！，、；：～·।،۔؛٪"
_PREFIX = "§%=—–" + _PUNCT + _QUOTES + _CURRENCY + r"\p{So}"  # split off the start of a chunk
_SUFFIX = _PUNCT + _QUOTES + _CURRENCY + r"\p{So}" + "—–.%"  # split off its end
_URL = rf"[A-Za-z][A-Za-z0-9+.\-]*://[^{WS}\"'()<>\[\]{{}}]*[^{WS}\"'()<>\[\]{{}}.,;:!?]"
_A = r"\p{L}\p{M}\p{N}"
_L = r"\p{L}\p{M}"
# Units spaCy splits off a number ("10km" -> "10" "km"), abridged.
_UNITS = "km|cm|mm|kg|mg|lb|oz|ft|yd|mph|KB|MB|GB|TB|kb|mb|gb|tb|am|pm|m|g|K|M|G|T"
# spaCy's exceptions that keep a final period: abbreviations (abridged) and letter-dot runs ("A.",
# "e.g.", "U.S."), the period written as U+2024 ONE DOT LEADER so that it is no suffix (same length
# and class; the token text is only measured).
ABBREVIATION_PATTERN = (
    rf"(^|[{WS}(\[\"'“‘])((?:\p{{L}}\.)*\p{{L}}|Mr|Mrs|Ms|Dr|Prof|St|Mt|Jr|Co|Corp|Inc|Ltd|Bros|Messrs|Gen|Gov"
    rf"|Sen|Rep|Rev|Adm|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|vs)\.([{WS},;:)\]\"'”’]|$)"
)
# Split points inside a chunk (spaCy's infixes, and units after a number), each as
# (before)(infix)(after): regexes here have no look-around, so the characters around an infix are
# matched too and written back.
INFIX_PATTERN = "|".join(
    [
        rf"()({_URL}|and/or)()",  # a URL (and "and/or") is kept whole: no infix inside
        rf"([{_A}])([-–—~]+|[:<>=/])([{_L}])",  # e-mail, and/or, key=value, a:b
        rf"([{_L}])(,)([{_L}])",  # a,b (but 1,000)
        r"(\p{N})([+\-*^])([\p{N}\-])",  # 2020-01-01, 3*4
        r"([\p{Ll}'\"”’])(\.)([\p{Lu}'\"“‘])",  # end.Next
        r"()(\.{2,}|…+|\p{So})()",  # ellipses and symbols (©, emoji) split everywhere
        rf"(\p{{N}})({_UNITS})([{WS}]|$)",  # 10km
    ]
)
INFIX_TEMPLATE = " ".join("".join(f"${{{3 * k + i}}}" for k in range(7)) for i in (1, 2, 3))
# Once infixes are spaced out: an ellipsis, a doubled quote, a currency prefix; or a core, which
# starts with a character that is not a prefix and ends with one that is not a suffix, anything in
# between; or any other single character (the prefixes and suffixes around a core).
TOKEN_PATTERN = rf"\.{{2,}}|…+|''|``|(?:US|C|A)\$|[^{WS}{_PREFIX}](?:[^{WS}]*[^{WS}{_SUFFIX}])?|[^{WS}]"
# A token with a character that is not a symbol (see the module docstring) is a word.
WORD_CHAR = r"[^\p{P}\p{Cc}$+<=>^`|~]"
ALPHA_CHAR = r"\p{L}"  # what str.isalpha() accepts
# Words spaCy splits in two (its exceptions, abridged): (first part)(second part). Counts add a token
# for each, and the first part is what is compared with stop words ("haven't" -> "have" "n't").
_SPLIT_FORMS = [
    r"(.*[\p{L}\p{N}])((?i:n['’]t|['’](?:s|m|d|ll|re|ve)))",  # don't, it's, John's
    r"([Ii])(m|d|ve)",  # German "im" is split too, as spaCy does
    (
        r"((?:[Dd]o|[Dd]oes|[Dd]id|[Cc]a|[Ww]o|[Ii]s|[Aa]re|[Ww]as|[Ww]ere|[Hh]as|[Hh]ave|[Hh]ad|[Cc]ould"
        r"|[Ss]hould|[Ww]ould|[Aa]i|[Mm]ust|[Nn]eed|[Mm]ight))(nt)"
    ),
    r"([Yy]ou|[Tt]hey)(re|ve|ll|d)",
    r"([Ww]e)(ve|d)",
    r"([Tt]hat|[Ww]hat|[Hh]e|[Ss]he)(s)",
    r"([Cc]an)(not)",
    r"([Gg]on|[Gg]ot)(na|ta)",
]
SPLIT_PATTERN = "^(?:" + "|".join(_SPLIT_FORMS) + ")$"
# The same test without groups and the leading ".*" (a cheaper regex for every token).
SPLIT_TEST = "|".join(
    [r"[\p{L}\p{N}](?i:n['’]t|['’](?:s|m|d|ll|re|ve))$"] + [f"^(?:{f})$" for f in _SPLIT_FORMS[1:]]
)
SPLIT_FIRST = "".join(f"${{{2 * k + 1}}}" for k in range(len(_SPLIT_FORMS)))


def texts(batch: pa.Table) -> pl.Series:
    """The batch's ``text`` column as a polars Series, null read as the empty string."""
    return pl.Series("text", batch["text"]).cast(pl.String).fill_null("")


def normalize_newlines(text: pl.Series) -> pl.Series:
    """Every line break ``str.splitlines()`` knows, written ``\\n``."""
    return text.str.replace_all(LINE_BREAK, "\n")


def count_lines(text_nl: pl.Series) -> np.ndarray:
    """(D,) ``len(text.splitlines())`` of newline-normalized texts (see :func:`normalize_newlines`)."""
    breaks = text_nl.str.count_matches("\n", literal=True).to_numpy().astype(np.int64)
    open_last = (text_nl.str.len_bytes() > 0) & ~text_nl.str.ends_with("\n")
    return breaks + open_last.to_numpy().astype(np.int64)


@dataclass(frozen=True)
class Pieces:
    """Pieces of a batch's documents (lines, paragraphs, tokens), flat and in document order.

    Attributes:
        values: (P,) the pieces.
        doc: (P,) int64 index of each piece's document, non-decreasing.
        counts: (D,) int64 pieces per document.
    """

    values: pl.Series
    doc: np.ndarray
    counts: np.ndarray

    @property
    def offsets(self) -> np.ndarray:
        """(D + 1,) where each document's pieces start; the last entry is P."""
        out = np.zeros(len(self.counts) + 1, dtype=np.int64)
        np.cumsum(self.counts, out=out[1:])
        return out

    def sum(self, values: np.ndarray | pl.Series) -> np.ndarray:
        """(D,) int64 per-document sum of a (P,) numeric or boolean array."""
        v = values.to_numpy() if isinstance(values, pl.Series) else values
        return np.bincount(self.doc, weights=v, minlength=len(self.counts)).round().astype(np.int64)

    def sum_at(self, where: np.ndarray, values: np.ndarray) -> np.ndarray:
        """(D,) int64 per-document sum of ``values`` at the piece indices ``where``."""
        w = np.bincount(self.doc[where], weights=values, minlength=len(self.counts))
        return w.round().astype(np.int64)

    def select(self, keep: np.ndarray) -> Pieces:
        """The pieces where the (P,) boolean ``keep`` is True."""
        return Pieces(
            self.values.filter(pl.Series(keep)),
            self.doc[keep],
            np.bincount(self.doc[keep], minlength=len(self.counts)).astype(np.int64),
        )


def explode(lists: pl.Series) -> Pieces:
    """Flatten a list Series (one list per document) into :class:`Pieces`."""
    counts = lists.list.len().fill_null(0).to_numpy().astype(np.int64)
    values = lists.explode(empty_as_null=False, keep_nulls=False)
    doc = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    assert len(values) == len(doc), "explode lost or added pieces"
    return Pieces(values, doc, counts)


def splitlines(text_nl: pl.Series) -> Pieces:
    """``str.splitlines()`` of every newline-normalized text (see :func:`normalize_newlines`)."""
    pieces = explode(text_nl.str.split("\n"))
    # split("\n") opens an empty last piece after a final "\n" (and for ""); splitlines() does not
    last = pieces.offsets[1:] - 1
    last = last[(pieces.counts > 0)]
    drop = last[(pieces.values.gather(last).str.len_bytes() == 0).to_numpy()]
    if len(drop) == 0:
        return pieces
    keep = np.ones(len(pieces.doc), dtype=bool)
    keep[drop] = False
    return pieces.select(keep)


def tokenize(text: pl.Series) -> Pieces:
    """Word tokens of every text (see the module docstring)."""
    # a match also eats the character after it: "a-b-c" needs a second pass for "b-c" (and "A. B."
    # would need one for "B.", which is rare enough to leave)
    spaced = text.str.replace_all(ABBREVIATION_PATTERN, "${1}${2}\u2024${3}")
    spaced = spaced.str.replace_all(INFIX_PATTERN, INFIX_TEMPLATE)
    spaced = spaced.str.replace_all(INFIX_PATTERN, INFIX_TEMPLATE)
    return explode(spaced.str.extract_all(TOKEN_PATTERN))


# Odd 64-bit constants: doc ids are multiplied into hashes, n-gram hashes roll with ROLL.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX = np.uint64(0xBF58476D1CE4E5B9)
ROLL = np.uint64(0x100000001B3)
# Elements sorted together; positions take the low bits of the sort key, hashes the rest (>= 44 bits).
_CHUNK = 1 << 20


def _chunks(doc: np.ndarray) -> Iterator[tuple[int, int]]:
    """[a, b) ranges cut at document boundaries, each at most _CHUNK long unless one document is longer."""
    n = len(doc)
    edges = np.concatenate([[0], np.flatnonzero(doc[1:] != doc[:-1]) + 1, [n]])
    a = 0
    while a < n:
        j = int(np.searchsorted(edges, a + _CHUNK, side="right")) - 1
        b = int(edges[j])
        if b <= a:  # a single document longer than a chunk
            b = int(edges[np.searchsorted(edges, a, side="right")])
        yield a, b
        a = b


def group_keys(keys: np.ndarray, doc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group equal keys within each document, by sorting.

    Args:
        keys: (P,) uint64 hashes of the elements (lines, n-grams...).
        doc: (P,) non-decreasing document index of each element.

    Returns:
        ``first``: (P,) bool, True for the first element of its document with that key (an element
        that is not first repeats an earlier one); ``size``: (P,) int64, how many elements of the
        document share the key; ``group``: (P,) int64 group number, 0..G-1 (never shared between
        documents).

    Each chunk of documents is sorted once: the sort key is the hash (mixed with the document) in
    the high bits and the element's position in the low bits, so equal hashes end up adjacent and in
    text order. Two different elements are taken as equal when their hashes agree on the high
    64 - log2(chunk) >= 44 bits: about one false pair per 2^24 elements sorted together.
    """
    n_all = len(keys)
    first = np.ones(n_all, dtype=bool)
    size = np.ones(n_all, dtype=np.int64)
    group = np.arange(n_all, dtype=np.int64)
    if n_all == 0:
        return first, size, group
    groups = 0
    # the multiplication carries every bit of the key into the high bits the sort compares
    mixed = (keys.astype(np.uint64, copy=False) ^ (doc.astype(np.uint64) * _GOLDEN)) * _MIX
    for a, b in _chunks(doc):
        n = b - a
        bits = max(int(n - 1).bit_length(), 1)
        low = np.uint64((1 << bits) - 1)
        packed = (mixed[a:b] & ~low) | np.arange(n, dtype=np.uint64)
        packed.sort()
        where = (packed & low).astype(np.int64) + a
        hi = packed >> np.uint64(bits)
        new = np.empty(n, dtype=bool)
        new[0] = True
        np.not_equal(hi[1:], hi[:-1], out=new[1:])
        starts = np.flatnonzero(new)
        run = np.diff(starts, append=n)
        first[where] = new
        size[where] = np.repeat(run, run)
        group[where] = np.repeat(np.arange(groups, groups + len(run)), run)
        groups += len(run)
    return first, size, group


def hash_strings(values: pl.Series) -> np.ndarray:
    """(P,) uint64 hashes of strings (polars' hash: stable within a process, which is all we need)."""
    return values.hash().to_numpy()


def repeats(pieces: Pieces) -> tuple[np.ndarray, np.ndarray]:
    """Per document: how many pieces repeat an earlier identical piece, and their characters.

    The first copy of a piece is not counted, later copies are (as datatrove's ``find_duplicates``).
    """
    first, _, _ = group_keys(hash_strings(pieces.values), pieces.doc)
    again = ~first
    chars = pieces.values.str.len_chars().to_numpy()
    return pieces.sum(again), pieces.sum(np.where(again, chars, 0))


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den as float64, 0.0 where den is 0 (an empty document has no repeated lines, no symbols...)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.zeros(np.broadcast(num, den).shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out
