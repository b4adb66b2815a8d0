"""Writers roll files at the target size and keep every row."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gencommons.data.io.writing import writers


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_rolls_at_target_size_and_keeps_rows(tmp_path: Path, fmt: str) -> None:
    w = writers[fmt](str(tmp_path), "part-00000", target_bytes=20_000)
    rows = [{"id": str(i), "text": f"document {i} " * 20, "license": "MIT"} for i in range(1000)]
    for start in range(0, 1000, 300):
        w.write(pa.Table.from_pylist(rows[start : start + 300]))
    files = w.close()
    assert len(files) > 5
    assert [Path(f.path).name for f in files] == [
        f"part-00000-{i:04d}.{'parquet' if fmt == 'parquet' else 'jsonl.gz'}" for i in range(len(files))
    ]
    back: list[dict[str, str]] = []
    for f in files:
        if fmt == "parquet":
            back.extend(pq.read_table(f.path).to_pylist())
        else:
            with gzip.open(f.path, "rt") as fh:
                back.extend(json.loads(line) for line in fh)
    assert back == rows
    assert sum(f.rows for f in files) == 1000


def test_parquet_widens_schema_mid_file(tmp_path: Path) -> None:
    w = writers["parquet"](str(tmp_path), "p", target_bytes=10**9)
    w.write(pa.table({"id": ["1"], "text": ["a"]}))
    w.write(pa.table({"id": ["2"], "text": ["b"], "score": [0.5]}))
    w.write(pa.table({"id": ["3"], "text": ["c"]}))
    files = w.close()
    rows = [r for f in files for r in pq.read_table(f.path).to_pylist()]
    assert [r["id"] for r in rows] == ["1", "2", "3"]
    assert rows[1]["score"] == 0.5


def test_parquet_text_has_no_dictionary_or_statistics_and_other_columns_keep_them(tmp_path: Path) -> None:
    """The text column is written plain, without min/max; every other column (nested ones too) keeps
    Parquet's dictionary encoding and statistics."""
    w = writers["parquet"](str(tmp_path), "p", target_bytes=10**9)
    table = pa.table(
        {
            "id": [str(i % 3) for i in range(50)],
            "text": [f"same text {i % 2}" for i in range(50)],
            "meta": [{"k": i % 2} for i in range(50)],
            "tags": [[i % 2] for i in range(50)],
        }
    )
    w.write(table)
    (f,) = w.close()
    group = pq.ParquetFile(f.path).metadata.row_group(0)
    columns = {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}
    assert set(columns) == {"id", "text", "meta.k", "tags.list.element"}
    for path, col in columns.items():
        dictionary = any("DICTIONARY" in e for e in col.encodings)
        assert (dictionary, col.is_stats_set) == ((False, False) if path == "text" else (True, True)), path
    assert pq.read_table(f.path).to_pylist() == table.to_pylist()
