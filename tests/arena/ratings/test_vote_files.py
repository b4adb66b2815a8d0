"""Reading vote files: Parquet, CSV, JSONL and aggregated counts give the same ratings; bad files fail
with the file and row named."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from gencommons.arena.ratings import bradley_terry, read_votes
from gencommons.errors import InputDataError


def write(df: pl.DataFrame, path: Path) -> Path:
    {".parquet": df.write_parquet, ".csv": df.write_csv, ".jsonl": df.write_ndjson}[path.suffix](path)
    return path


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_every_format_and_counts_give_the_same_ratings(
    tmp_path: Path, suffix: str, llmfao_votes: pl.DataFrame, llmfao_counts: pl.DataFrame
) -> None:
    expected = bradley_terry(llmfao_counts)
    assert bradley_terry(read_votes(write(llmfao_votes, tmp_path / f"votes{suffix}"))) == expected
    assert bradley_terry(read_votes(write(llmfao_counts, tmp_path / f"counts{suffix}"))) == expected


def test_pandas_and_pyarrow_tables(llmfao_counts: pl.DataFrame) -> None:
    expected = bradley_terry(llmfao_counts)
    assert bradley_terry(llmfao_counts.to_arrow()) == expected
    assert bradley_terry(llmfao_counts.to_pandas()) == expected


GOOD = {"model_a": ["x", "y", "x"], "model_b": ["y", "z", "z"], "winner": ["model_a", "tie", "model_b"]}


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        ({"winner": ["model_a", "draw", "model_b"]}, ":3", "winner 'draw' is not one of"),  # CSV line 3
        ({"model_b": ["y", "y", "z"]}, ":3", "model 'y' plays itself"),
        ({"model_a": ["x", None, "x"]}, ":3", "model_a is empty"),
        ({"count": [1, -2, 3]}, ":3", "count -2 is not a whole number"),
        ({"count": [1.0, 2.5, 3.0]}, ":3", "count 2.5 is not a whole number"),
        ({"count": [0, 0, 0]}, "", "every count is 0"),
    ],
)
def test_bad_rows_name_the_file_and_line(tmp_path: Path, change: dict, where: str, message: str) -> None:
    path = write(pl.DataFrame({**GOOD, **change}), tmp_path / "votes.csv")
    with pytest.raises(InputDataError, match=message) as e:
        read_votes(path)
    assert str(e.value).startswith(f"{path}{where}: ")


def test_row_numbers_in_parquet_and_jsonl(tmp_path: Path) -> None:
    bad = pl.DataFrame({**GOOD, "winner": ["model_a", "tie", "b"]})
    for suffix in (".parquet", ".jsonl"):
        with pytest.raises(InputDataError, match=r":3: winner 'b'"):
            read_votes(write(bad, tmp_path / f"votes{suffix}"))


def test_missing_columns_empty_and_unknown_files(tmp_path: Path) -> None:
    path = write(pl.DataFrame({"model_a": ["x"], "model_b": ["y"], "result": ["x"]}), tmp_path / "v.csv")
    with pytest.raises(
        InputDataError, match=r"v\.csv: missing column\(s\) winner.*found model_a, model_b, result"
    ):
        read_votes(path)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(InputDataError, match=r"empty\.jsonl: missing column"):
        read_votes(empty)
    header_only = tmp_path / "header.csv"
    header_only.write_text("model_a,model_b,winner\n")
    with pytest.raises(InputDataError, match=r"header\.csv: no votes"):
        read_votes(header_only)
    with pytest.raises(InputDataError, match=r"unknown vote file type '\.txt'"):
        read_votes(write(pl.DataFrame(GOOD), tmp_path / "v.csv").rename(tmp_path / "v.txt"))
    with pytest.raises(InputDataError, match="no such vote file"):
        read_votes(tmp_path / "absent.parquet")


def test_in_memory_tables_are_checked_too() -> None:
    with pytest.raises(InputDataError, match=r"<votes>:2: model 'y' plays itself"):
        bradley_terry(pl.DataFrame({"model_a": ["x", "y"], "model_b": ["y", "y"], "winner": ["tie", "tie"]}))
