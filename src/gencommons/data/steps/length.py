"""``length``: drop documents outside a range of characters or words (vectorized)."""

from __future__ import annotations

import polars as pl
import pyarrow as pa
from pydantic import Field

from gencommons.data.step import StepParams, filter_step


class LengthParams(StepParams):
    min_chars: int = Field(1, ge=0, description="Drop documents with fewer characters (after strip).")
    max_chars: int | None = Field(
        None, ge=1, description="Drop documents with more characters; null = no limit."
    )
    min_words: int = Field(0, ge=0, description="Drop documents with fewer whitespace-separated words.")
    max_words: int | None = Field(None, ge=1, description="Drop documents with more words; null = no limit.")


@filter_step(
    "length",
    params=LengthParams,
    rules=[
        ("too_few_chars", lambda p: pl.col("length_chars") < p.min_chars),
        ("too_many_chars", lambda p: pl.col("length_chars") > (p.max_chars or 2**62)),
        ("too_few_words", lambda p: pl.col("length_words") < p.min_words),
        ("too_many_words", lambda p: pl.col("length_words") > (p.max_words or 2**62)),
    ],
)
def length(batch: pa.Table, p: LengthParams) -> pl.DataFrame:
    """Drop documents shorter or longer than the given numbers of characters and words.

    Characters are Unicode code points of the stripped text; words are runs of non-whitespace.
    """
    text = pl.Series(batch["text"]).str.strip_chars()
    return pl.DataFrame(
        {
            "length_chars": text.str.len_chars().cast(pl.Int64),
            "length_words": text.str.count_matches(r"\S+").cast(pl.Int64),
        }
    )
