"""Vote tables for the ratings tests: the real llmfao crowd votes (copied in tests/data/votes/llmfao)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

LLMFAO = Path(__file__).parents[2] / "data" / "votes" / "llmfao"


@pytest.fixture(scope="session")
def llmfao_counts() -> pl.DataFrame:
    """8,931 real votes on 59 models, aggregated: model_a, model_b, winner, count."""
    return pl.read_csv(LLMFAO / "llmfao-counts.csv")


@pytest.fixture(scope="session")
def llmfao_votes(llmfao_counts: pl.DataFrame) -> pl.DataFrame:
    """The same votes, one row each."""
    return expand(llmfao_counts)


def expand(counts: pl.DataFrame) -> pl.DataFrame:
    """One row per vote from a table with a count column."""
    return counts.select(pl.exclude("count").repeat_by(pl.col("count")).explode())
