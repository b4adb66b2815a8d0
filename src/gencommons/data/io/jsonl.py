"""JSONL input (plain, .gz, .zst, through fsspec): one JSON object per line."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pyarrow as pa

from gencommons.data.io.reading import (
    GZIP_ERRORS,
    BadRecords,
    BatchBuilder,
    ReadOptions,
    open_input,
    readers,
    record_to_doc,
)
from gencommons.errors import InputDataError


@readers.register("jsonl")
def read_jsonl(path: str, opts: ReadOptions, bad: BadRecords) -> Iterator[pa.Table]:
    """Yield batches from a JSONL file; each line a JSON object with a text field."""
    builder = BatchBuilder(opts)
    line_no = 0
    seen_any = False
    try:
        with open_input(path) as fh:
            for raw in fh:
                line_no += 1
                if not raw.strip():
                    continue
                seen_any = True
                try:
                    record = orjson.loads(raw)
                except orjson.JSONDecodeError as e:
                    try:
                        raw.decode("utf-8")
                    except UnicodeDecodeError as ue:
                        bad(
                            InputDataError(
                                f"invalid UTF-8 at byte {ue.start} of the line",
                                path=path,
                                line=line_no,
                                reason="invalid_utf8",
                            ),
                            raw,
                        )
                        continue
                    bad(
                        InputDataError(
                            f"malformed JSON: {e}", path=path, line=line_no, reason="malformed_json"
                        ),
                        raw,
                    )
                    continue
                doc = record_to_doc(record, path=path, line=line_no, opts=opts, bad=bad, raw=raw)
                if doc is None:
                    continue
                out = builder.add(*doc)
                if out is not None:
                    yield out
    except GZIP_ERRORS as e:
        if isinstance(e, FileNotFoundError):
            raise
        bad(
            InputDataError(
                f"the file is truncated or corrupt after line {line_no} ({e})",
                path=path,
                line=line_no + 1,
                reason="truncated_file",
            )
        )
    except _zstd_errors() as e:
        bad(
            InputDataError(
                f"the zstd stream is truncated or corrupt after line {line_no} ({e})",
                path=path,
                line=line_no + 1,
                reason="truncated_file",
            )
        )
    if not seen_any:
        bad(InputDataError("the file is empty (no records)", path=path, reason="empty_file"))
    last = builder.flush()
    if last is not None:
        yield last


def _zstd_errors() -> tuple[type[BaseException], ...]:
    try:
        import zstandard

        return (zstandard.ZstdError,)
    except ImportError:  # pragma: no cover - zstandard is a dependency of the data extra
        return ()
