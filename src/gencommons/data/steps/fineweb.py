"""``fineweb_quality``: the three rules FineWeb added to C4's and Gopher's (Penedo et al. 2024).

https://arxiv.org/abs/2406.17557 (Section 3.3, "Developing additional heuristic filters"). Over the
non-blank lines of a document (split on ``\\n``; a blank line is whitespace only):

* ``line_punct_ratio``: drop when the fraction of lines ending in punctuation is below
  ``line_punct_thr`` (0.12). A line ends in punctuation when its last character (trailing
  whitespace included, as in datatrove) is a Unicode sentence terminal (``. ! ?`` and their forms in
  other scripts, ``Sentence_Terminal``) or a straight quote ``' "``: FineWeb's own set, ``. ' " ! ?``,
  extended to other scripts as datatrove's later versions do.
* ``char_dup_ratio``: drop when the characters of lines that repeat an earlier line, over all
  characters except ``\\n``, exceed ``char_duplicates_ratio`` (0.1, the paper's value).
* ``short_line_ratio``: drop when the fraction of lines of at most ``short_line_length`` (30)
  characters exceeds ``short_line_thr`` (0.67).

Differences from datatrove 0.10's ``FineWebQualityFilter``: its ``char_duplicates_ratio`` default is
0.01, not the paper's 0.1; its line-end set has no quotes; it also drops documents with more than 0.3
newlines per word (``list_ratio``), a rule the paper does not list and this step does not have; a
document with no non-blank line is dropped as ``line_punct_ratio`` here (its ratios are 0), as
"empty" there.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
from pydantic import Field

from gencommons.data.step import StepParams, filter_step
from gencommons.data.steps import text_stats as ts

PAPER = "https://arxiv.org/abs/2406.17557"
LINE_END_PUNCT = r"[\p{Sentence_Terminal}'\"]$"


class FineWebQualityParams(StepParams):
    line_punct_thr: float = Field(
        0.12, ge=0, le=1, description="Drop documents with a smaller fraction of lines ending in punctuation."
    )
    line_punct_exclude_zero: bool = Field(
        False, description="Keep documents where no line ends in punctuation (the rule only drops a few)."
    )
    short_line_length: int = Field(30, ge=0, description="Lines of at most this many characters are short.")
    short_line_thr: float = Field(
        0.67, ge=0, le=1, description="Drop documents with a larger fraction of short lines."
    )
    char_duplicates_ratio: float = Field(
        0.1, ge=0, le=1, description="Drop documents with a larger fraction of characters in repeated lines."
    )


def fineweb_scores(text: pl.Series, short_line_length: int) -> pl.DataFrame:
    """The ``fineweb_quality`` score columns of a Series of texts (see :func:`fineweb_quality`)."""
    lines = ts.explode(text.str.split("\n"))
    lines = lines.select(lines.values.str.contains(rf"[^{ts.WS}]").to_numpy())
    n = lines.counts
    punct = lines.sum(lines.values.str.contains(LINE_END_PUNCT))
    short = lines.sum(lines.values.str.len_chars() <= short_line_length)
    _, dup_chars = ts.repeats(lines)
    chars = (text.str.len_chars() - text.str.count_matches("\n", literal=True)).to_numpy()
    return pl.DataFrame(
        {
            "fineweb_line_punct_ratio": ts.ratio(punct, n),
            "fineweb_short_line_ratio": ts.ratio(short, n),
            "fineweb_char_dup_ratio": ts.ratio(dup_chars, chars),
            "fineweb_lines": n.astype(np.int64),
        }
    )


@filter_step(
    "fineweb_quality",
    params=FineWebQualityParams,
    rules=[
        (
            "line_punct_ratio",
            lambda p: (
                (pl.col("fineweb_line_punct_ratio") < p.line_punct_thr)
                & ~(pl.lit(p.line_punct_exclude_zero) & (pl.col("fineweb_line_punct_ratio") == 0))
            ),
        ),
        ("short_line_ratio", lambda p: pl.col("fineweb_short_line_ratio") > p.short_line_thr),
        ("char_dup_ratio", lambda p: pl.col("fineweb_char_dup_ratio") > p.char_duplicates_ratio),
    ],
    thresholds=["line_punct_thr", "line_punct_exclude_zero", "short_line_thr", "char_duplicates_ratio"],
    paper=PAPER,
)
def fineweb_quality(batch: pa.Table, p: FineWebQualityParams) -> pl.DataFrame:
    """Drop list-like, repetitive or choppy pages: FineWeb's three added rules (Penedo et al. 2024).

    Scores, over non-blank lines: ``fineweb_line_punct_ratio`` (fraction ending in punctuation),
    ``fineweb_short_line_ratio`` (fraction of at most ``short_line_length`` characters),
    ``fineweb_char_dup_ratio`` (characters in repeated lines per character, newlines not counted)
    and ``fineweb_lines``. A document without lines has ratios 0.

    Example:
        >>> import pyarrow as pa
        >>> batch = pa.table({"text": ["A line that ends well.\\nAnother one, also fine.", "menu\\nhome\\nabout"]})
        >>> fineweb_quality.measure(batch, FineWebQualityParams())["fineweb_line_punct_ratio"].to_list()
        [1.0, 0.0]
    """
    return fineweb_scores(ts.texts(batch), p.short_line_length)
