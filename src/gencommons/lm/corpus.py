"""Texts from a curated dataset: the Parquet output of ``gencommons data run`` (or plain Parquet/JSONL).

A *dataset* is a folder with ``manifest.json`` and ``data/*.parquet`` (what the pipeline writes), or a
Parquet / JSONL(.gz/.zst) file or glob. Texts stream in record batches, so memory stays bounded.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from gencommons.errors import UserError


@dataclass(frozen=True)
class Dataset:
    """Where a dataset's files are and what identifies it for lineage."""

    path: str
    files: list[str]
    content_id: str | None  # the manifest's content id, when the dataset has one
    licenses: dict[str, int]


def open_dataset(path: str) -> Dataset:
    """Resolve ``path`` (a pipeline output folder, a file, or a glob) to its files; errors name the path."""
    manifest = None
    if os.path.isdir(path):
        data = os.path.join(path, "data")
        files = sorted(
            glob.glob(os.path.join(glob.escape(data), "*.parquet"))
            + glob.glob(os.path.join(glob.escape(data), "*.jsonl*"))
        )
        if not files:  # a plain folder of Parquet/JSONL files
            files = sorted(
                glob.glob(os.path.join(glob.escape(path), "*.parquet"))
                + glob.glob(os.path.join(glob.escape(path), "*.jsonl*"))
            )
        if os.path.exists(os.path.join(path, "manifest.json")):
            from gencommons.lineage.manifest import read_manifest

            manifest = read_manifest(path)
    else:
        files = sorted(glob.glob(path)) if any(c in path for c in "*?[") else [path]
        files = [f for f in files if os.path.isfile(f)]
    if not files:
        raise UserError(
            f"{path}: no dataset here (expected a `gencommons data run` output folder, or Parquet/JSONL files)."
        )
    lic = ((manifest or {}).get("licenses") or {}).get("inputs") or {}
    return Dataset(path=path, files=files, content_id=(manifest or {}).get("content_id"), licenses=dict(lic))


def iter_batches(
    ds: Dataset, *, text_field: str = "text", extra: tuple[str, ...] = (), batch_rows: int = 2048
) -> Iterator[tuple[str, pa.Table]]:
    """Yield ``(file, table)`` batches in file order with columns ``id``, ``text`` and those of ``extra``
    the file has. Empty texts are dropped here (they carry no tokens); a file without ``text_field`` is
    an error naming it."""
    for f in ds.files:
        batches = (
            _parquet(f, text_field, extra, batch_rows)
            if f.endswith(".parquet")
            else _jsonl(f, text_field, batch_rows)
        )
        for t in batches:
            t = t.filter(pc.greater(pc.utf8_length(t.column("text")), 0))
            if t.num_rows:
                yield f, t.select([c for c in ("id", "text", *extra) if c in t.column_names])


def iter_texts(
    ds: Dataset, *, text_field: str = "text", batch_rows: int = 2048
) -> Iterator[tuple[str, list[str]]]:
    """Yield ``(file, texts)`` batches in file order."""
    for f, t in iter_batches(ds, text_field=text_field, batch_rows=batch_rows):
        yield f, t.column("text").to_pylist()


def _parquet(path: str, field: str, extra: tuple[str, ...], batch_rows: int) -> Iterator[pa.Table]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises several types for a damaged file
        raise UserError(f"{path}: not a readable Parquet file ({e}).") from e
    names = pf.schema_arrow.names
    if field not in names:
        raise UserError(f"{path}: no column {field!r} (columns: {', '.join(names)}).")
    cols = [field] + [c for c in ("id", *extra) if c in names and c != field]
    for batch in pf.iter_batches(batch_size=batch_rows, columns=cols):
        t = pa.Table.from_batches([batch]).rename_columns(["text" if c == field else c for c in cols])
        if "id" not in t.column_names:  # stable ids: file name and row
            t = t.append_column("id", pa.array([f"{os.path.basename(path)}:{i}" for i in range(t.num_rows)]))
        yield t.set_column(t.column_names.index("text"), "text", t.column("text").cast(pa.large_string()))


def _jsonl(path: str, field: str, batch_rows: int) -> Iterator[pa.Table]:
    # the pipeline's own reader: malformed lines are errors naming the file and line
    from gencommons.data.io.jsonl import read_jsonl
    from gencommons.data.io.reading import BadRecords, ReadOptions

    yield from read_jsonl(path, ReadOptions(text_field=field, batch_size=batch_rows), BadRecords())
