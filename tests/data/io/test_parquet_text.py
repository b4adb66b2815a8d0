"""Parquet and plain-text readers."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gencommons.data.io.parquet import read_parquet
from gencommons.data.io.reading import BadRecords, ReadOptions, detect_format
from gencommons.data.io.text import read_text
from gencommons.errors import InputDataError


def test_parquet_fields_ids_and_null_text(tmp_path: Path) -> None:
    p = tmp_path / "a.parquet"
    pq.write_table(pa.table({"body": ["x", None, "z"], "lang": ["en", "fr", "de"]}), p)
    with pytest.raises(InputDataError, match=r"a\.parquet:2: row has a null 'body'"):
        [b for b in read_parquet(str(p), ReadOptions(text_field="body"), BadRecords())]
    bad = BadRecords(quarantine=True)
    rows = [r for b in read_parquet(str(p), ReadOptions(text_field="body"), bad) for r in b.to_pylist()]
    assert rows == [
        {"id": "a.parquet:1", "text": "x", "lang": "en"},
        {"id": "a.parquet:3", "text": "z", "lang": "de"},
    ]
    assert bad.count == 1
    with pytest.raises(InputDataError, match="no column 'text'"):
        list(read_parquet(str(p), ReadOptions(), BadRecords()))


def test_parquet_corrupt_and_empty(tmp_path: Path) -> None:
    p = tmp_path / "bad.parquet"
    p.write_bytes(b"PAR1 not really")
    with pytest.raises(InputDataError, match="not a readable Parquet file"):
        list(read_parquet(str(p), ReadOptions(), BadRecords()))
    e = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"text": pa.array([], pa.string())}), e)
    with pytest.raises(InputDataError, match="empty"):
        list(read_parquet(str(e), ReadOptions(), BadRecords()))


def test_text_files(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    good = tmp_path / "d" / "a.txt"
    good.write_text("héllo\nworld\n", encoding="utf-8")
    rows = [
        r for b in read_text(str(good), ReadOptions(root=str(tmp_path)), BadRecords()) for r in b.to_pylist()
    ]
    assert rows == [{"id": "d/a.txt", "text": "héllo\nworld\n"}]
    latin = tmp_path / "latin.txt"
    latin.write_bytes("ligne 1\ncafé".encode("latin-1"))
    with pytest.raises(InputDataError, match=r"latin\.txt:2: invalid UTF-8"):
        list(read_text(str(latin), ReadOptions(), BadRecords()))
    empty = tmp_path / "empty.txt"
    empty.write_text(" \n")
    with pytest.raises(InputDataError, match="empty"):
        list(read_text(str(empty), ReadOptions(), BadRecords()))


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.jsonl.zst", "jsonl"),
        ("b.PARQUET", "parquet"),
        ("c.warc.gz", "warc"),
        ("d.txt", "text"),
        ("e.csv", None),
    ],
)
def test_detect_format(name: str, fmt: str | None) -> None:
    assert detect_format(name) == fmt
