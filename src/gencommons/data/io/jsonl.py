"""JSONL input (plain, .gz, .zst; local or any fsspec URL): one JSON object per line."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, field

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from gencommons.data.document import ID, TEXT, normalize_batch
from gencommons.data.io.reading import (
    GZIP_ERRORS,
    BadRecords,
    BatchBuilder,
    ReadOptions,
    open_input,
    readers,
    record_to_doc,
    zstd_errors,
)
from gencommons.errors import InputDataError


@readers.register("jsonl")
def read_jsonl(path: str, opts: ReadOptions, bad: BadRecords) -> Iterator[pa.Table]:
    """Yield batches from a JSONL file; each line a JSON object with a text field.

    Lines are gathered into blocks of ~``PARSE_BYTES`` (at most ``batch_size`` lines). A block is
    parsed by Arrow's JSON reader straight into columns (``_arrow_block``) when it holds plain
    records; any block Arrow cannot take exactly as the record-by-record path would (a malformed or
    non-object line, a missing or non-string text, nested metadata, NaN, integers beyond 64 bits,
    invalid UTF-8, ...) goes through that path (``_record_batches``), which names the file and line
    of every bad record. A hypothesis test holds the two paths equal, block for block. The blocks'
    tables are gathered, without a copy, into batches of ``batch_size`` documents or
    ``max_batch_bytes`` of text (``_Batches``).
    """
    batches = _Batches(opts)
    for table in _block_tables(path, opts, bad):
        yield from batches.add(table)
    yield from batches.flush()


# JSON text per Arrow parse. Parsing a whole batch at once held its JSON lines, Arrow's parse state
# and the result together: ~43 MB resident for a 9 MB batch of text, against ~22 MB in 1 MB blocks
# (the MinHash benchmark's files).
PARSE_BYTES = 1 << 20


class _Batches:
    """Gathers tables into batches of ``batch_size`` rows (the last may be short) or ``max_batch_bytes``
    of text: the batch's columns are the tables' chunks (no copy). Tables whose columns differ in type
    (a field that is a number in one block and a string in the next) go in separate batches."""

    def __init__(self, opts: ReadOptions):
        self.opts = opts
        self.tables: list[pa.Table] = []
        self.rows = 0
        self.nbytes = 0
        self.schema: pa.Schema | None = None

    def add(self, table: pa.Table) -> Iterator[pa.Table]:
        while table.num_rows:
            schema = table.schema
            if self.schema is not None and schema != self.schema:
                if _same_types(self.schema, schema):
                    schema = pa.unify_schemas([self.schema, schema], promote_options="permissive")
                else:
                    yield from self.flush()
            take = table.slice(0, self.opts.batch_size - self.rows)
            table = table.slice(take.num_rows)
            self.tables.append(take)
            self.schema = schema
            self.rows += take.num_rows
            self.nbytes += take[TEXT].nbytes
            if self.rows >= self.opts.batch_size or self.nbytes >= self.opts.max_batch_bytes:
                yield from self.flush()

    def flush(self) -> Iterator[pa.Table]:
        if not self.tables:
            return
        tables, self.tables = self.tables, []
        self.rows = self.nbytes = 0
        self.schema = None
        if len(tables) == 1:
            yield tables[0]
        else:
            yield pa.concat_tables(tables, promote_options="permissive")


def _same_types(a: pa.Schema, b: pa.Schema) -> bool:
    """Whether every column the two share has one type (or is all null in one of them): their tables
    then gather without a cast (a missing or null column takes the other's type). An int64 column
    gathered with a double one would be cast, and round integers beyond 2**53."""
    types = dict(zip(a.names, a.types, strict=True))
    return all(
        t == types[name] or pa.types.is_null(t) or pa.types.is_null(types[name])
        for name, t in zip(b.names, b.types, strict=True)
        if name in types
    )


def _block_tables(path: str, opts: ReadOptions, bad: BadRecords) -> Iterator[pa.Table]:
    """The tables of the file's blocks, in order (``read_jsonl``)."""
    block_bytes = min(PARSE_BYTES, opts.max_batch_bytes)
    block = _Block()
    misses = 0  # blocks in a row Arrow could not take: after two, the file goes record by record
    line_no = 0
    seen_any = False
    cut: BaseException | None = None
    try:
        with open_input(path) as fh:
            for raw in fh:
                line_no += 1
                if not raw.strip():
                    continue
                seen_any = True
                block.add(line_no, raw)
                if len(block) >= opts.batch_size or len(block.data) >= block_bytes:
                    took = yield from _block_batches(block, path, opts, bad, arrow=misses < 2)
                    misses = 0 if took else misses + 1
                    block = _Block()
    except GZIP_ERRORS as e:
        if isinstance(e, FileNotFoundError):
            raise
        cut = e
    except zstd_errors() as e:
        cut = e
    # the lines before the end (or a cut), then the cut
    yield from _block_batches(block, path, opts, bad, arrow=misses < 2)
    if cut is not None:
        kind = "zstd stream" if isinstance(cut, zstd_errors()) else "file"
        bad(
            InputDataError(
                f"the {kind} is truncated or corrupt after line {line_no} ({cut})",
                path=path,
                line=line_no + 1,
                reason="truncated_file",
            )
        )
    if not seen_any:
        bad(InputDataError("the file is empty (no records)", path=path, reason="empty_file"))


@dataclass
class _Block:
    """The non-blank lines of one batch: their bytes once, one after the other, each ending in a
    newline (what Arrow's JSON reader parses, without a copy), with their line numbers and where each
    line, as read, lies in it. A list of lines joined into one buffer held the text twice while Arrow
    parsed it."""

    data: bytearray = field(default_factory=bytearray)
    lines: list[int] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)  # each line as read (no added newline)

    def add(self, line_no: int, raw: bytes) -> None:
        start = len(self.data)
        self.data += raw
        self.lines.append(line_no)
        self.spans.append((start, len(self.data)))
        if not raw.endswith(b"\n"):
            self.data += b"\n"

    def __len__(self) -> int:
        return len(self.lines)

    def records(self) -> Iterator[tuple[int, bytes]]:
        """(line number, the line as read) of each line."""
        for line_no, (start, end) in zip(self.lines, self.spans, strict=True):
            yield line_no, bytes(self.data[start:end])

    def clear(self) -> None:
        self.data = bytearray()
        self.lines, self.spans = [], []


def _block_batches(
    block: _Block, path: str, opts: ReadOptions, bad: BadRecords, *, arrow: bool
) -> Generator[pa.Table, None, bool]:
    """Yield the block's batches; return whether Arrow took it. A file whose blocks Arrow cannot take
    (nested metadata on every line, say) stops trying, so it reads no slower than record by record."""
    if not block:
        return True
    table = _arrow_block(block, path, opts) if arrow else None
    if table is not None:
        block.clear()  # the raw lines (as many bytes as the batch's text) are not held while it is used
        yield normalize_batch(table)
        return True
    yield from _record_batches(block, path, opts, bad)
    return False


def _record_batches(block: _Block, path: str, opts: ReadOptions, bad: BadRecords) -> Iterator[pa.Table]:
    """The record-by-record path: orjson per line, every bad record named by file and line."""
    builder = BatchBuilder(opts)
    for line_no, raw in block.records():
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
            bad(InputDataError(f"malformed JSON: {e}", path=path, line=line_no, reason="malformed_json"), raw)
            continue
        doc = record_to_doc(record, path=path, line=line_no, opts=opts, bad=bad, raw=raw)
        if doc is None:
            continue
        out = builder.add(*doc)
        if out is not None:
            yield out
    last = builder.flush()
    if last is not None:
        yield last


# Arrow's JSON reader reads what orjson does not (NaN, Infinity), turns integers beyond int64 into
# doubles and ISO dates into timestamps: such blocks take the record-by-record path, or are re-read
# with those fields as strings (dates)
_PLAIN = (
    pa.types.is_string,
    pa.types.is_large_string,
    pa.types.is_integer,
    pa.types.is_floating,
    pa.types.is_boolean,
    pa.types.is_null,
)


def _arrow_block(block: _Block, path: str, opts: ReadOptions) -> pa.Table | None:
    """The block's batch, parsed by Arrow, or None where it would differ from the record-by-record
    path. Arrow parses the MinHash benchmark corpus (32,880 documents) in 0.15 CPU-s where orjson and
    building columns from Python objects take 0.61; the whole MinHash step goes from 2.87 to 2.61."""
    data = pa.py_buffer(block.data)
    fixed: dict[str, pa.DataType] = {opts.text_field: pa.large_string()}
    order: list[str] = []  # the columns in order of first appearance (explicit ones come first)
    for _ in range(2):
        try:
            table = pa_json.read_json(
                pa.BufferReader(data),
                read_options=pa_json.ReadOptions(use_threads=False, block_size=len(data) + 1),
                parse_options=pa_json.ParseOptions(
                    explicit_schema=pa.schema(list(fixed.items())), unexpected_field_behavior="infer"
                ),
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
            return None
        order = order or table.column_names
        dates = [f.name for f in table.schema if pa.types.is_temporal(f.type)]
        if not dates:
            table = table.select(order)
            break
        fixed.update({name: pa.string() for name in dates})  # keep date-like strings as written
    else:
        return None
    if table.num_rows != len(block):
        return None
    try:
        table.validate(full=True)  # Arrow's JSON reader does not check UTF-8: invalid bytes go through
    except pa.ArrowInvalid:
        return None
    for f in table.schema:
        if not any(is_type(f.type) for is_type in _PLAIN):
            return None
        if pa.types.is_floating(f.type):
            col = table[f.name]
            if pc.any(pc.or_(pc.is_nan(col), pc.is_inf(col))).as_py():
                return None
            big = pc.max(pc.abs(col)).as_py()
            # an integer beyond 2**53 among floats: Arrow rounds it to a double, the record path keeps it
            # exact (as JSON text); beyond 2**63 orjson keeps it exact too
            if big is not None and big >= 2.0**53:
                return None
    text = table[opts.text_field]
    if text.null_count:
        return None
    name = path.rsplit("/", 1)[-1]
    if opts.id_field in table.column_names:
        ids = table[opts.id_field]
        if not (pa.types.is_string(ids.type) or pa.types.is_integer(ids.type) or pa.types.is_null(ids.type)):
            return None
        ids = ids.cast(pa.string())
        if ids.null_count:
            made = pa.array([f"{name}:{line}" for line in block.lines], pa.string())
            ids = pc.coalesce(ids, made)
    else:
        ids = pa.array([f"{name}:{line}" for line in block.lines], pa.string())
    rest = [n for n in table.column_names if n not in (opts.text_field, opts.id_field)]
    names = [ID, TEXT, *(f"orig_{n}" if n in (ID, TEXT) else n for n in rest)]
    return pa.Table.from_arrays([ids, text, *(table[n] for n in rest)], names=names)
