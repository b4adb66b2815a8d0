"""Open a dataset for analysis and stream its rows in bounded batches.

A dataset is a ``gencommons data run`` output folder (``data/*.parquet`` + ``manifest.json``), a plain
folder of Parquet / JSONL(.gz/.zst) files, one such file, or a glob. Only the columns asked for are read,
one record batch at a time, so memory stays bounded whatever the dataset's size.

``split`` cuts a dataset into ``Part``s (a JSONL file, or a range of a Parquet file's row groups) for the
parallel commands: each part is read by one task, local or on Ray (``parallel.py``), and the parts in
order read exactly the rows of the whole dataset in order.
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
        for f in glob.glob(os.path.join(glob.escape(folder), pattern))
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
    files = [os.path.abspath(f) for f in files]  # tasks may run elsewhere (a Ray worker's cwd)
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


@dataclass(frozen=True)
class Part:
    """What one task reads: a whole file, or the row groups ``[start, stop)`` of a Parquet file.
    ``first_row`` is the dataset row number of its first row (-1 when unknown: after a JSONL file)."""

    file: str
    row_groups: tuple[int, int] | None = None
    first_row: int = 0


def split(ds: AnalysisDataset, parts: int) -> list[Part]:
    """Cut the dataset into about ``parts`` parts of similar row counts, in dataset order (a Parquet
    file splits at row-group boundaries, a JSONL file is one part)."""
    import pyarrow.parquet as pq

    sizes: list[tuple[str, list[int]]] = []
    for f in ds.files:
        if f.endswith(".parquet"):
            md = pq.ParquetFile(f).metadata
            sizes.append((f, [md.row_group(i).num_rows for i in range(md.num_row_groups)]))
        else:
            sizes.append((f, []))
    total = sum(sum(g) for _, g in sizes)
    target = max(1, -(-total // max(1, parts)))
    out: list[Part] = []
    row = 0
    for f, groups in sizes:
        if not f.endswith(".parquet"):
            out.append(Part(f, None, row))
            row = -1 if row >= 0 else row  # rows after a JSONL file are not known without reading it
            continue
        start, rows = 0, 0
        for i, g in enumerate(groups):
            rows += g
            if rows >= target or i == len(groups) - 1:
                out.append(Part(f, (start, i + 1), row))
                row = row + rows if row >= 0 else row
                start, rows = i + 1, 0
        if not groups:  # an empty Parquet file still gets read (and its schema checked)
            out.append(Part(f, (0, 0), row))
    return out


def iter_tables(
    ds: AnalysisDataset,
    *,
    columns: Sequence[str] | None = None,
    batch_rows: int = 2048,
    part: Part | None = None,
) -> Iterator[pa.Table]:
    """Yield tables of at most ``batch_rows`` rows, with the wanted ``columns`` each file has (the
    whole dataset, or one ``part`` of it)."""
    for f in [part.file] if part is not None else ds.files:
        if f.endswith(".parquet"):
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(f)
            have = pf.schema_arrow.names
            if "text" not in have:
                raise UserError(f"{f}: no column 'text' (columns: {', '.join(have)}).")
            cols = [c for c in columns if c in have] if columns is not None else None
            groups = None
            if part is not None and part.row_groups is not None:
                groups = list(range(*part.row_groups))
                if not groups:
                    continue
            for batch in pf.iter_batches(batch_size=batch_rows, columns=cols, row_groups=groups):
                yield pa.Table.from_batches([batch])
        else:
            for t in _jsonl(f, "text", batch_rows):
                yield t.select([c for c in columns if c in t.column_names]) if columns is not None else t


def _jsonl(path: str, field: str, batch_rows: int) -> Iterator[pa.Table]:
    # the pipeline's own reader: malformed lines are errors naming the file and line
    from gencommons.data.io.jsonl import read_jsonl
    from gencommons.data.io.reading import BadRecords, ReadOptions

    yield from read_jsonl(path, ReadOptions(text_field=field, batch_size=batch_rows), BadRecords())
