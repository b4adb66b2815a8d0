"""``decontaminate``: drop (or, in ``mode: annotate``, flag) training documents that contain any word
n-gram of the given evaluation sets (13-grams of lowercased ``\\w+`` words by default, as GPT-3 and
lm-evaluation-harness). The method and the eval-file format are those of ``gencommons data
contamination`` (``data/analysis/contamination.py``); eval files are read once per worker process.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
from pydantic import Field

from gencommons.data.analysis.contamination import DEFAULT_FIELDS, load_eval_ngrams
from gencommons.data.analysis.tokens import word_ngram_hashes
from gencommons.data.step import StepParams, filter_step


class DecontaminateParams(StepParams):
    evals: list[str] = Field(
        ..., min_length=1, description="Eval sets: JSONL(.gz) files, one example a line."
    )
    fields: list[str] = Field(
        list(DEFAULT_FIELDS), min_length=1, description="Fields of an eval record joined into its text."
    )
    n: int = Field(13, ge=1, description="Words per n-gram.")
    max_matches: int = Field(
        0, ge=0, description="Drop documents with more eval n-gram occurrences than this."
    )


@filter_step(
    "decontaminate",
    params=DecontaminateParams,
    rules=[("eval_ngram", lambda p: pl.col("decontaminate_matches") > p.max_matches)],
    thresholds=["max_matches"],
    paper="https://arxiv.org/abs/2005.14165",
)
def decontaminate(batch: pa.Table, p: DecontaminateParams) -> pl.DataFrame:
    """Drop documents containing a word n-gram of the given eval sets (GPT-3's 13-gram overlap).

    Adds ``decontaminate_matches``: occurrences of eval n-grams in the document.
    """
    ev = load_eval_ngrams(p.evals, fields=tuple(p.fields), n=p.n)
    h, doc = word_ngram_hashes(batch["text"], p.n)
    hit, _ = ev.lookup(h)
    counts = np.bincount(doc[hit], minlength=batch.num_rows).astype(np.int64)
    return pl.DataFrame({"decontaminate_matches": counts})
