"""What every reader shares: the reader registry, read options, bad-record handling and batching.

A reader is a function ``read(path, opts, bad) -> Iterator[pa.Table]`` registered by format name in
``readers``. It yields batches with at least ``id`` and ``text``; every other field of the record
becomes a metadata column. Malformed records go to ``bad`` (a ``BadRecords``), which raises
``InputDataError`` naming the file and line (``on_error: fail``) or counts the record into a quarantine
(``on_error: quarantine``). Nothing is dropped silently.
"""

from __future__ import annotations

import io
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, cast

import orjson
import pyarrow as pa

from gencommons.data.document import ID, TEXT, normalize_batch
from gencommons.data.io.files import open_binary
from gencommons.errors import InputDataError
from gencommons.registry import Registry

Reader = Callable[[str, "ReadOptions", "BadRecords"], Iterator[pa.Table]]
readers: Registry[Reader] = Registry("input format", package="gencommons.data.io", group="gencommons.readers")

# format name -> file name endings it claims, for format: auto
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "jsonl": (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json", ".json.gz", ".json.zst", ".ndjson"),
    "parquet": (".parquet",),
    "warc": (".warc", ".warc.gz", ".warc.zst", ".arc", ".arc.gz"),
    "text": (".txt", ".txt.gz", ".md"),
}


# codecs left to fsspec's inference by file name (.gz and .zst are decoded here)
FSSPEC_CODECS = (".bz2", ".xz", ".lzma", ".zip")


def detect_format(path: str) -> str | None:
    low = path.lower()
    for fmt, exts in EXTENSIONS.items():
        if low.endswith(exts):
            return fmt
    return None


@dataclass(frozen=True)
class ReadOptions:
    """How to turn records into documents.

    Attributes:
        text_field: the record field holding the text.
        id_field: the record field holding a unique id; when the record has none, the id is
            ``<file name>:<line>`` (stable across runs).
        batch_size: documents per batch.
        max_batch_bytes: a batch is also cut when its text reaches this many bytes (huge documents).
        extractor: HTML-to-text extractor for WARC input.
        root: the input's base folder; a text file's id is its path relative to it.
    """

    text_field: str = "text"
    id_field: str = "id"
    batch_size: int = 5_000
    max_batch_bytes: int = 64 * 2**20
    extractor: str = "resiliparse"
    root: str = ""  # input root: ids of text files are paths relative to it


@dataclass
class BadRecords:
    """Where malformed records go: raise (``quarantine=False``) or collect them with their reason."""

    quarantine: bool = False
    records: list[dict[str, Any]] = field(default_factory=list)
    count: int = 0
    # records a reader skips by design, not errors (a WARC's non-HTML responses, pages without text)
    skipped: dict[str, int] = field(default_factory=dict)

    def __call__(self, error: InputDataError, raw: str | bytes | None = None) -> None:
        if not self.quarantine:
            raise error
        self.count += 1
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", errors="replace")
        if raw is not None and len(raw) > 10_000:
            raw = raw[:10_000] + f"... [{len(raw)} characters in all]"
        self.records.append(
            {
                "path": error.path,
                "line": error.line,
                "reason": error.reason,
                "message": str(error),
                "raw": raw,
            }
        )


def open_input(path: str) -> IO[bytes]:
    """Open a local path or URL, decompressing by its name: .gz and .zst here, .bz2, .xz, .lzma and
    .zip through fsspec's codecs."""
    name = path.lower()
    zst, gz = name.endswith(".zst"), name.endswith(".gz")
    try:
        if zst or gz or not name.endswith(FSSPEC_CODECS):
            fh = open_binary(path)
        else:
            import fsspec

            fh = fsspec.open(path, "rb", compression="infer").open()
    except FileNotFoundError:
        raise InputDataError("no such file", path=path, reason="missing_file") from None
    if zst:
        return _unzstd(fh)
    if gz:
        return _gunzip(fh)
    out: IO[bytes] = fh
    return out


def _gzip_decompressor() -> tuple[Callable[[], Any], tuple[type[BaseException], ...]]:
    """A new gzip member decompressor, from ISA-L (2.8x faster than zlib: the 78 MB MinHash benchmark
    corpus in 0.13 CPU-s instead of 0.37) or zlib; and the errors it raises besides zlib's."""
    try:
        from isal import isal_zlib
    except ImportError:  # pragma: no cover - isal is in the data extra
        return (lambda: zlib.decompressobj(31)), ()
    return (lambda: isal_zlib.decompressobj(31)), (cast(type[BaseException], isal_zlib.error),)


_NEW_GZIP, _GZIP_EXTRA_ERRORS = _gzip_decompressor()
# what reading a truncated or corrupt .gz raises
GZIP_ERRORS: tuple[type[BaseException], ...] = (EOFError, OSError, zlib.error, *_GZIP_EXTRA_ERRORS)


def zstd_errors() -> tuple[type[BaseException], ...]:
    """What reading a truncated or corrupt .zst raises. Nothing zstandard raises before a .zst file is
    opened, which imports it: until then, no error of its own (and no import, ~0.2 MB)."""
    zstandard = sys.modules.get("zstandard")
    return () if zstandard is None else (zstandard.ZstdError,)


def member_decompressor(path: str) -> tuple[Callable[[], Any], str] | None:
    """A factory of streaming decompressors for the file's extension (.gz, .zst, .bz2, .xz) and the
    format's name, or None for a plain file."""
    name = path.lower()
    if name.endswith(".gz"):
        return _NEW_GZIP, "gzip"
    if name.endswith(".zst"):
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj, "zstd"
    if name.endswith(".bz2"):
        import bz2

        return bz2.BZ2Decompressor, "bz2"
    if name.endswith(".xz"):
        import lzma

        return lzma.LZMADecompressor, "xz"
    return None


# compressed bytes per read: ~0.5 MB of text from gzip. Reads of 1 MB decoded ~7 MB at a time, held
# twice (the parts and their join) next to the batch being gathered: 12 MB more peak RSS on the MinHash
# benchmark (131,520 documents), for no CPU saved.
READ_BYTES = 64 << 10


def decoded_chunks(fh: IO[bytes], new: Callable[[], Any], name: str) -> Iterator[tuple[int, bytes]]:
    """(bytes read, bytes decoded from them) per ``READ_BYTES`` read of a stream of concatenated members
    (gzip members, zstd frames); EOFError if it ends inside one, after yielding everything decoded
    before the cut.

    zstandard's own stream reader treats a truncated frame as a clean end of file, which would lose
    the tail of a cut file silently; the gzip module drops the last ~100 KB it decoded before the cut.
    """
    d = new()
    in_member = False
    while True:
        chunk = fh.read(READ_BYTES)
        if not chunk:
            if in_member:
                raise EOFError(f"the {name} stream ends inside a member")
            return
        n = len(chunk)
        parts = []
        while chunk:
            in_member = True
            parts.append(d.decompress(chunk))
            if d.eof:
                chunk = d.unused_data
                d = new()
                in_member = False
            else:
                chunk = b""
        yield n, b"".join(parts)


def _gunzip(fh: IO[bytes]) -> IO[bytes]:
    return io.BufferedReader(_MembersRaw(fh, _NEW_GZIP, "gzip"), buffer_size=1 << 20)


def _unzstd(fh: IO[bytes]) -> IO[bytes]:
    import zstandard

    return io.BufferedReader(_MembersRaw(fh, zstandard.ZstdDecompressor().decompressobj, "zstd"), 1 << 20)


class _MembersRaw(io.RawIOBase):
    """The decoded bytes of ``decoded_chunks`` as a raw stream."""

    def __init__(self, fh: IO[bytes], new: Callable[[], Any], name: str):
        self._fh = fh
        self._chunks = decoded_chunks(fh, new, name)
        self._buf = b""
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while self._pos >= len(self._buf):
            nxt = next(self._chunks, None)
            if nxt is None:
                return 0
            self._buf, self._pos = nxt[1], 0
        n = min(len(b), len(self._buf) - self._pos)
        b[:n] = self._buf[self._pos : self._pos + n]
        self._pos += n
        return n

    def close(self) -> None:
        self._fh.close()
        super().close()


def _column(values: list[Any]) -> pa.Array:
    """An Arrow column for one metadata field; nested or mixed values become JSON text."""
    try:
        arr = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        arr = None
    if arr is None or pa.types.is_nested(arr.type) or pa.types.is_dictionary(arr.type):
        return pa.array(
            [None if v is None else v if isinstance(v, str) else orjson.dumps(v).decode() for v in values],
            pa.string(),
        )
    return arr


class BatchBuilder:
    """Accumulates records and cuts batches by count or text bytes."""

    def __init__(self, opts: ReadOptions):
        self.opts = opts
        self.rows: list[dict[str, Any]] = []
        self.nbytes = 0

    def add(self, doc_id: str, text: str, meta: dict[str, Any]) -> pa.Table | None:
        row = dict(meta)
        row[ID] = doc_id
        row[TEXT] = text
        self.rows.append(row)
        self.nbytes += len(text)
        if len(self.rows) >= self.opts.batch_size or self.nbytes >= self.opts.max_batch_bytes:
            return self.flush()
        return None

    def flush(self) -> pa.Table | None:
        if not self.rows:
            return None
        names: dict[str, None] = {ID: None, TEXT: None}
        for r in self.rows:
            for k in r:
                names.setdefault(k, None)
        # id and text are always str: built in their final types, so normalize_batch copies nothing
        # (casting a batch's text to large_string held its text twice)
        typed = {ID: pa.string(), TEXT: pa.large_string()}
        table = pa.Table.from_arrays(
            [
                pa.array([r[n] for r in self.rows], typed[n])
                if n in typed
                else _column([r.get(n) for r in self.rows])
                for n in names
            ],
            names=list(names),
        )
        self.rows = []
        self.nbytes = 0
        return normalize_batch(table)


def record_to_doc(
    record: Any, *, path: str, line: int, opts: ReadOptions, bad: BadRecords, raw: bytes | str | None
) -> tuple[str, str, dict[str, Any]] | None:
    """Validate one parsed record: an object with a string text field. Returns (id, text, meta)."""
    problem: tuple[str, str] | None = None
    text = record.get(opts.text_field) if isinstance(record, dict) else None
    if not isinstance(record, dict):
        problem = (f"expected a JSON object, got {type(record).__name__}", "not_an_object")
    elif text is None:
        fields = ", ".join(sorted(record)[:10])
        problem = (
            (
                f"record has no {opts.text_field!r} field (set input.text_field to the field holding the "
                f"text; fields here: {fields})"
            ),
            "missing_text",
        )
    elif not isinstance(text, str):
        problem = (f"field {opts.text_field!r} is {type(text).__name__}, not a string", "text_not_string")
    if problem is not None:
        bad(InputDataError(problem[0], path=path, line=line, reason=problem[1]), raw)
        return None
    assert isinstance(record, dict)
    assert isinstance(text, str)
    doc_id = record.get(opts.id_field)
    if doc_id is None:
        doc_id = f"{path.rsplit('/', 1)[-1]}:{line}"
    meta = {
        (f"orig_{k}" if k in (ID, TEXT) else k): v
        for k, v in record.items()
        if k not in (opts.text_field, opts.id_field)
    }
    return str(doc_id), text, meta
