"""Open a dataset for analysis and stream its rows in bounded batches.

A dataset is a ``gencommons data run`` output folder (``data/*.parquet`` + ``manifest.json``), a plain
folder of Parquet / JSONL(.gz/.zst) files, one such file, or a glob. Only the columns asked for are read,
one record batch at a time, so memory stays bounded whatever the dataset's size.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from gencommons.errors import UserError


@dataclass(frozen=True)
class AnalysisDataset:
    """Where a dataset's files are, its manifest (None when it has none) and its column names."""

    path: str
    files: list[str]
    manifest: dict[str, Any] | None
    columns: list[str]

    @property
    def name(self) -> str:
        return os.path.basename(os.path.normpath(self.path))


def _data_files(folder: str) -> list[str]:
    return sorted(
        f
        for pattern in ("*.parquet", "*.jsonl", "*.jsonl.gz", "*.jsonl.zst")
        for f in glob.glob(os.path.join(folder, pattern))
    )


def open_dataset(path: str) -> AnalysisDataset:
    """Resolve ``path`` to its files and manifest; a clear error when there is no dataset."""
    manifest = None
    if os.path.isdir(path):
        files = _data_files(os.path.join(path, "data")) or _data_files(path)
        if os.path.exists(os.path.join(path, "manifest.json")):
            from gencommons.lineage.manifest import read_manifest

            manifest = read_manifest(path)
    elif any(c in path for c in "*?["):
        files = sorted(f for f in glob.glob(path) if os.path.isfile(f))
    elif os.path.isfile(path):
        files = [path]
    else:
        raise UserError(f"{path}: no such file or folder.")
    if not files:
        raise UserError(
            f"{path}: no dataset here (expected a `gencommons data run` output folder with data/*.parquet, "
            "or Parquet / JSONL files)."
        )
    return AnalysisDataset(path=path, files=files, manifest=manifest, columns=_columns(files[0]))


def _columns(path: str) -> list[str]:
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        try:
            return list(pq.ParquetFile(path).schema_arrow.names)
        except Exception as e:  # pyarrow raises several types for a damaged file
            raise UserError(f"{path}: not a readable Parquet file ({e}).") from e
    for t in _jsonl(path, "text", 16):
        return list(t.column_names)
    return ["id", "text"]


def iter_tables(
    ds: AnalysisDataset, *, columns: Sequence[str] | None = None, batch_rows: int = 2048
) -> Iterator[pa.Table]:
    """Yield tables of at most ``batch_rows`` rows, with the wanted ``columns`` each file has."""
    for f in ds.files:
        if f.endswith(".parquet"):
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(f)
            have = pf.schema_arrow.names
            if "text" not in have:
                raise UserError(f"{f}: no column 'text' (columns: {', '.join(have)}).")
            cols = [c for c in columns if c in have] if columns is not None else None
            for batch in pf.iter_batches(batch_size=batch_rows, columns=cols):
                yield pa.Table.from_batches([batch])
        else:
            for t in _jsonl(f, "text", batch_rows):
                yield t.select([c for c in columns if c in t.column_names]) if columns is not None else t


def _jsonl(path: str, field: str, batch_rows: int) -> Iterator[pa.Table]:
    # the pipeline's own reader: malformed lines are errors naming the file and line
    from gencommons.data.io.jsonl import read_jsonl
    from gencommons.data.io.reading import BadRecords, ReadOptions

    yield from read_jsonl(path, ReadOptions(text_field=field, batch_size=batch_rows), BadRecords())
