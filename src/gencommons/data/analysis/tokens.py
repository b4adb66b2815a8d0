"""The two ways analysis splits text: a Hugging Face tokenizer (counting tokens, the n-gram index) and
normalized words (top n-grams, contamination).

**Words** are maximal runs of ``\\w`` (Unicode letters, digits, underscore), then lowercased:
punctuation and whitespace never matter, as in the 13-gram overlap of GPT-3 (Brown et al. 2020,
Appendix C) and lm-evaluation-harness's decontamination (lowercase, punctuation removed).
``word_ngram_hashes`` turns a batch of documents into the 64-bit hashes of all their word n-grams,
vectorized: polars splits and hashes the words, numpy rolls n of them into one hash
(``h = h · P + w`` modulo 2^64). Two different n-grams share a hash with probability ~2^-64.
"""

from __future__ import annotations

import functools
import hashlib
import os
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from gencommons.errors import UserError, require

WORD = r"\w+"
_P = np.uint64(0x100000001B3)  # the FNV prime: odd, so the rolling product never collapses
_SEED = 0x2545F4914F6CDD1D


def words(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(W,) uint64 word hashes of all documents in order, and (W,) int64 document numbers."""
    lists = texts.fill_null("").str.extract_all(WORD).list.eval(pl.element().str.to_lowercase())
    doc = np.repeat(np.arange(len(lists), dtype=np.int64), lists.list.len().fill_null(0).to_numpy())
    flat = lists.explode().drop_nulls()
    # polars' hash with a fixed seed: the same in every process of one polars version
    h = flat.hash(_SEED).to_numpy().astype(np.uint64) if len(flat) else np.zeros(0, np.uint64)
    return h, doc


def _ngram_rows(h: np.ndarray, doc: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(G,) rolled hashes of the n-grams inside one document and the (G,) word-stream index of each."""
    m = len(h) - n + 1
    if m <= 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    acc = np.full(m, np.uint64(n), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):
            acc = acc * _P + h[j : j + m]
    keep = np.flatnonzero(doc[:m] == doc[n - 1 : n - 1 + m])  # the n-gram stays inside its document
    return acc[keep], keep


def ngram_hashes(h: np.ndarray, doc: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every n-gram of consecutive words inside one document, and the n-gram's document.

    Returns ``(G,) uint64`` hashes (the n-gram starting at word ``i`` of the stream for each kept
    ``i``) and ``(G,) int64`` document numbers; ``G`` = words − (n − 1) per document (none if shorter).
    """
    g, keep = _ngram_rows(h, doc, n)
    return g, doc[keep]


def word_ngram_hashes(texts: pa.Array | pa.ChunkedArray | pl.Series, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(G,) n-gram hashes of a batch of documents and the (G,) document number of each."""
    s = texts if isinstance(texts, pl.Series) else pl.Series(texts)
    return ngram_hashes(*words(s.cast(pl.String)), n)


def word_ngram_positions(
    texts: pa.Array | pa.ChunkedArray | pl.Series, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Like ``word_ngram_hashes``, plus the (G,) position of each n-gram's first word in its document."""
    s = texts if isinstance(texts, pl.Series) else pl.Series(texts)
    h, doc = words(s.cast(pl.String))
    g, keep = _ngram_rows(h, doc, n)
    d = doc[keep]
    return g, d, keep - np.searchsorted(doc, d, side="left")


@functools.lru_cache(maxsize=4)
def load_tokenizer(path: str) -> tuple[Any, str]:
    """A ``tokenizers.Tokenizer`` from a HF tokenizer folder (or its tokenizer.json) and its identity:
    the sha256 of tokenizer.json, so an index can refuse queries tokenized differently."""
    require("tokenizers", extra="lm")
    from tokenizers import Tokenizer

    file = os.path.join(path, "tokenizer.json") if os.path.isdir(path) else path
    if not os.path.isfile(file):
        raise UserError(
            f"{path}: no tokenizer here (expected a Hugging Face tokenizer folder with tokenizer.json)."
        )
    with open(file, "rb") as fh:
        raw = fh.read()
    try:
        tok = Tokenizer.from_str(raw.decode("utf-8"))
    except Exception as e:  # tokenizers raises a bare Exception for a bad file
        raise UserError(f"{file}: not a readable tokenizer.json ({e}).") from e
    return tok, "sha256:" + hashlib.sha256(raw).hexdigest()


def token_counts(tok: Any, texts: list[str]) -> np.ndarray:
    """(D,) tokens per document (no special tokens)."""
    enc = tok.encode_batch_fast(texts, add_special_tokens=False)
    return np.fromiter((len(e.ids) for e in enc), dtype=np.int64, count=len(enc))
