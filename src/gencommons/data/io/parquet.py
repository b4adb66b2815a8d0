"""Parquet input: read row groups in batches, rename the text/id fields to the batch schema."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from gencommons.data.document import ID, TEXT, normalize_batch
from gencommons.data.io.files import open_binary
from gencommons.data.io.reading import BadRecords, ReadOptions, readers
from gencommons.errors import InputDataError

# Read column chunks in 1 MiB pieces instead of whole (pre-buffered) row groups: reading a 5,000-document
# row group peaks at ~30 MB of Arrow memory instead of ~53 MB, for the same CPU time (bench/README.md).
STREAMING = {"pre_buffer": False, "buffer_size": 1 << 20}
# Column chunks decoded on the calling thread. Decoded on Arrow's CPU thread (one per task, see
# runner.one_arrow_thread), their buffers came from that thread's allocator heap: freed by the task,
# they stayed resident until that thread allocated again, out of reach of release_unused (~8 MB a
# process after a run). MinHash benchmark, 32,880 documents, medians of 3 runs alternated, with
# mimalloc (Arrow's pool then; jemalloc keeps a cache per thread too): peak 148-152 → 139-145 MB, and
# 3-7 % less CPU (no hand-offs).
USE_THREADS = False


@readers.register("parquet")
def read_parquet(path: str, opts: ReadOptions, bad: BadRecords) -> Iterator[pa.Table]:
    """Yield batches from a Parquet file; rows with a null text go to ``bad``."""
    import pyarrow.parquet as pq

    try:
        fh = open_binary(path)
    except FileNotFoundError:
        raise InputDataError("no such file", path=path, reason="missing_file") from None
    with fh:
        try:
            pf = pq.ParquetFile(fh, **STREAMING)
        except (pa.ArrowInvalid, OSError) as e:
            bad(InputDataError(f"not a readable Parquet file ({e})", path=path, reason="corrupt_file"))
            return
        names = pf.schema_arrow.names
        if opts.text_field not in names:
            raise InputDataError(
                f"no column {opts.text_field!r} (set input.text_field; columns: {', '.join(names[:20])})",
                path=path,
                reason="missing_text",
            )
        if pf.metadata.num_rows == 0:
            bad(InputDataError("the file is empty (no rows)", path=path, reason="empty_file"))
        row = 0
        for rb in pf.iter_batches(batch_size=opts.batch_size, use_threads=USE_THREADS):
            t = pa.Table.from_batches([rb])
            n = t.num_rows
            text = t[opts.text_field]
            if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
                raise InputDataError(
                    f"column {opts.text_field!r} has type {text.type}, not string",
                    path=path,
                    reason="text_not_string",
                )
            if opts.id_field in names:
                ids = t[opts.id_field].cast(pa.string())
            else:
                stem = path.rsplit("/", 1)[-1]
                ids = pa.array([f"{stem}:{row + i + 1}" for i in range(n)], pa.string())
            rest = [c for c in t.column_names if c not in (opts.text_field, opts.id_field)]
            out = pa.Table.from_arrays(
                [ids, text, *(t[c] for c in rest)],
                names=[ID, TEXT, *(f"orig_{c}" if c in (ID, TEXT) else c for c in rest)],
            )
            nulls = pc.is_null(out[TEXT])
            if pc.any(nulls).as_py():
                for i in pc.indices_nonzero(nulls).to_pylist():
                    bad(
                        InputDataError(
                            f"row has a null {opts.text_field!r}",
                            path=path,
                            line=row + i + 1,
                            reason="missing_text",
                        )
                    )
                out = out.filter(pc.invert(nulls))
            row += n
            yield normalize_batch(out)


def read_file(path: str, columns: list[str] | None = None) -> pa.Table:
    """One local Parquet file as a table. Unlike ``pq.read_table`` this does not go through
    ``pyarrow.dataset``, which imports pandas (0.1 s and ~44 MB per worker) and is slower per small file."""
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as f:
        return f.read(columns=columns, use_threads=USE_THREADS)
