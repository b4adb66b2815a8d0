"""Plain-text input: one document per file (a folder of .txt files, or single files)."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from gencommons.data.io.reading import BadRecords, BatchBuilder, ReadOptions, open_input, readers
from gencommons.errors import InputDataError


@readers.register("text")
def read_text(path: str, opts: ReadOptions, bad: BadRecords) -> Iterator[pa.Table]:
    """One document per file; the id is the file's path, the text its UTF-8 content."""
    with open_input(path) as fh:
        data = fh.read()
    if not data.strip():
        bad(InputDataError("the file is empty", path=path, reason="empty_file"), data)
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        bad(
            InputDataError(f"invalid UTF-8 at byte {e.start}", path=path, line=line, reason="invalid_utf8"),
            data,
        )
        return
    builder = BatchBuilder(opts)
    doc_id = path[len(opts.root) :].lstrip("/") if opts.root and path.startswith(opts.root) else path
    builder.add(doc_id, text, {})
    out = builder.flush()
    if out is not None:
        yield out
