"""Vote tables in, aggregated battles out: reading, validating and counting votes.

A vote table has Chatbot Arena's release columns ``model_a``, ``model_b`` and ``winner`` (one of
``model_a``, ``model_b``, ``tie``, ``tie (bothbad)``), one row per vote, or one row per distinct vote
with a ``count`` column. Every rating function first turns it into :class:`Battles`: one *cell* per
distinct (pair of models, outcome) with its number of votes. The cell is oriented so that the model
that sorts first is side ``a`` (swapping sides and the winner gives the same vote), and both kinds of
tie are one outcome (both count as half a win each way). So a table of votes and the same votes
aggregated into counts give the same cells, hence bit-identical ratings, bootstraps included.

Style covariates (``style.py``) travel with the cells: with them, a cell is a distinct
(pair, outcome, covariates) row.

Not here: the fits (``bradley_terry.py``), the style features (``style.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from gencommons.errors import InputDataError

WINNERS = ("model_a", "model_b", "tie", "tie (bothbad)")
REQUIRED = ("model_a", "model_b", "winner")
# score of side a per winner value: a win, a loss, half a win each way for both kinds of tie
_SCORE = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}


@dataclass(frozen=True)
class Battles:
    """Votes aggregated into cells, the input of every fit.

    Attributes:
        models: model names, sorted; every index below points into it.
        a, b: (cells,) int64 indices of the two models, ``a < b``.
        y: (cells,) score of side a: 1 win, 0.5 tie, 0 loss.
        count: (cells,) int64 number of votes in the cell (> 0).
        z: (cells, k) style covariates of side a minus side b (``style.py``), or None.
        features: names of the k covariates.
    """

    models: tuple[str, ...]
    a: np.ndarray
    b: np.ndarray
    y: np.ndarray
    count: np.ndarray
    z: np.ndarray | None = None
    features: tuple[str, ...] = ()

    @property
    def n_votes(self) -> int:
        return int(self.count.sum())

    def votes_per_model(self) -> np.ndarray:
        """(models,) number of votes each model took part in."""
        n = len(self.models)
        return np.bincount(self.a, self.count, n) + np.bincount(self.b, self.count, n)

    def with_counts(self, count: np.ndarray) -> Battles:
        """The same cells with other vote counts (a bootstrap draw, votes removed)."""
        return Battles(self.models, self.a, self.b, self.y, count, self.z, self.features)


def as_polars(table: Any) -> pl.DataFrame:
    """A polars DataFrame from polars, pandas, pyarrow or a dict of columns."""
    if isinstance(table, pl.DataFrame):
        return table
    if isinstance(table, pl.LazyFrame):
        return table.collect()
    module = type(table).__module__
    if module.startswith("pyarrow"):
        out = pl.from_arrow(table)
        assert isinstance(out, pl.DataFrame)
        return out
    if module.startswith("pandas"):
        return pl.from_pandas(table)
    return pl.DataFrame(table)


def read_votes(path: str | Path) -> pl.DataFrame:
    """Read a vote file (Parquet, CSV, or JSON lines) and check it; errors name the file and row.

    Example:
        >>> votes = read_votes("votes.parquet")  # doctest: +SKIP
    """
    path = Path(path)
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix.lower() == ".gz" else path.suffix.lower()
    if not path.is_file():
        raise InputDataError("no such vote file", path=str(path), reason="missing_file")
    try:
        if suffix == ".parquet":
            df = pl.read_parquet(path)
            header = 0
        elif suffix in (".csv", ".csv.gz"):
            df = pl.read_csv(path, infer_schema_length=10_000)
            header = 1  # data row N is line N + 1
        elif suffix in (".jsonl", ".ndjson", ".jsonl.gz"):
            df = pl.read_ndjson(path) if path.stat().st_size else pl.DataFrame()
            header = 0
        else:
            raise InputDataError(
                f"unknown vote file type {suffix or '(none)'!r}: use .parquet, .csv or .jsonl",
                path=str(path),
                reason="unknown_format",
            )
    except (pl.exceptions.PolarsError, OSError) as e:
        raise InputDataError(f"cannot read the vote file: {e}", path=str(path), reason="unreadable") from e
    check_votes(df, source=str(path), header_lines=header)
    return df


def check_votes(df: pl.DataFrame, *, source: str = "<votes>", header_lines: int = 0) -> None:
    """Raise InputDataError, naming ``source`` and the first bad row, unless ``df`` is a valid vote table.

    Rows are numbered from 1; ``header_lines`` is added so that a CSV error points at its line.
    """

    def fail(message: str, row: int | None = None, reason: str = "bad_votes") -> None:
        line = None if row is None else row + 1 + header_lines
        raise InputDataError(message, path=source, line=line, reason=reason)

    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        fail(
            f"missing column(s) {', '.join(missing)}: a vote table needs model_a, model_b, winner "
            f"(and optionally count); found {', '.join(df.columns) or 'no columns'}",
            reason="missing_column",
        )
    if df.height == 0:
        fail("no votes: the table is empty", reason="empty")
    for col in REQUIRED:
        nulls = df[col].is_null()
        if nulls.any():
            fail(f"{col} is empty", int(nulls.arg_true()[0]), reason="null")
    bad = ~df["winner"].cast(pl.String).is_in(WINNERS)
    if bad.any():
        row = int(bad.arg_true()[0])
        fail(f"winner {df['winner'][row]!r} is not one of {', '.join(WINNERS)}", row, reason="bad_winner")
    self_play = df["model_a"].cast(pl.String) == df["model_b"].cast(pl.String)
    if self_play.any():
        row = int(self_play.arg_true()[0])
        fail(f"model {df['model_a'][row]!r} plays itself", row, reason="self_play")
    if "count" in df.columns:
        count = df["count"]
        if not count.dtype.is_numeric():
            fail(f"count must be a number, found {count.dtype}", reason="bad_count")
        bad = count.is_null() | (count < 0) | (count.cast(pl.Float64) != count.cast(pl.Float64).floor())
        if bad.any():
            row = int(bad.arg_true()[0])
            fail(f"count {count[row]!r} is not a whole number ≥ 0", row, reason="bad_count")
        if count.sum() == 0:
            fail("no votes: every count is 0", reason="empty")


def battles_from_votes(
    votes: Any, *, covariates: np.ndarray | None = None, features: tuple[str, ...] = ()
) -> Battles:
    """Aggregate a vote table (or a :class:`Battles`, returned as is) into cells.

    Args:
        votes: a polars/pandas/pyarrow table with ``model_a``, ``model_b``, ``winner`` [, ``count``].
        covariates: (rows, k) style covariates of side a minus side b, one row per table row.
        features: their names.
    """
    if isinstance(votes, Battles):
        return votes
    df = as_polars(votes)
    check_votes(df)
    if "count" in df.columns:
        count = df["count"].cast(pl.Int64).to_numpy()
    else:
        count = np.ones(df.height, dtype=np.int64)
    keep = count > 0
    if not keep.all():  # a model seen only in count-0 rows has no votes: leave it out
        df, count = df.filter(pl.Series(keep)), count[keep]
        covariates = None if covariates is None else covariates[keep]
    model_a, model_b = df["model_a"].cast(pl.String), df["model_b"].cast(pl.String)
    models = tuple(sorted(pl.concat([model_a.unique(), model_b.unique()]).unique().to_list()))
    enum = pl.Enum(models)
    ia = model_a.cast(enum).to_physical().to_numpy().astype(np.int64)
    ib = model_b.cast(enum).to_physical().to_numpy().astype(np.int64)
    score = df["winner"].cast(pl.String).replace_strict(_SCORE, return_dtype=pl.Float64).to_numpy()
    swap = ia > ib  # orient every vote so that a < b: swap the sides and the score
    a, b = np.where(swap, ib, ia), np.where(swap, ia, ib)
    y = np.where(swap, 1.0 - score, score)
    if covariates is not None:
        z = np.where(swap[:, None], -covariates, covariates)
        return _aggregate_rows(models, a, b, y, count, z, features)
    # outcome code 0: a loses, 1: tie, 2: a wins; cell key = (a, b, outcome)
    n = len(models)
    key = (a * n + b) * 3 + (2 * y).astype(np.int64)
    if n * n * 3 <= 50_000_000:
        totals = np.bincount(key, weights=count, minlength=n * n * 3)
        cells = np.flatnonzero(totals)
        cell_count = totals[cells].astype(np.int64)
    else:  # too many models for a dense table of cells
        cells, inverse = np.unique(key, return_inverse=True)
        cell_count = np.bincount(inverse, weights=count).astype(np.int64)
    pair, outcome = np.divmod(cells, 3)
    ca, cb = np.divmod(pair, n)
    return Battles(models, ca, cb, outcome / 2.0, cell_count)


def _aggregate_rows(
    models: tuple[str, ...],
    a: np.ndarray,
    b: np.ndarray,
    y: np.ndarray,
    count: np.ndarray,
    z: np.ndarray,
    features: tuple[str, ...],
) -> Battles:
    """Cells as distinct (a, b, y, z) rows, so that votes and their counts aggregate identically."""
    rows = np.column_stack([a, b, y, z]).astype(np.float64)
    uniq, inverse = np.unique(rows, axis=0, return_inverse=True)
    cell_count = np.bincount(inverse.ravel(), weights=count).astype(np.int64)
    return Battles(
        models,
        uniq[:, 0].astype(np.int64),
        uniq[:, 1].astype(np.int64),
        uniq[:, 2].copy(),
        cell_count,
        np.ascontiguousarray(uniq[:, 3:]),
        features,
    )
