"""JSONL reading: compression, ids, metadata, and every kind of bad input named by file and line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gencommons.data.io.jsonl import read_jsonl
from gencommons.data.io.reading import BadRecords, ReadOptions
from gencommons.errors import InputDataError


def _read(path: Path, **opts: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for batch in read_jsonl(str(path), ReadOptions(**opts), BadRecords()):
        rows.extend(batch.to_pylist())
    return rows


def _write(path: Path, lines: list[bytes]) -> Path:
    data = b"".join(line + b"\n" for line in lines)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    elif path.suffix == ".zst":
        path.write_bytes(zstandard.ZstdCompressor().compress(data))
    else:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", ["a.jsonl", "a.jsonl.gz", "a.jsonl.zst"])
def test_plain_gz_zst(tmp_path: Path, name: str) -> None:
    p = _write(
        tmp_path / name, [b'{"id": "x", "text": "caf\xc3\xa9", "n": 1}', b"", b'{"text": "two", "n": 2}']
    )
    rows = _read(p)
    assert [(r["id"], r["text"], r["n"]) for r in rows] == [("x", "café", 1), (f"{name}:3", "two", 2)]


def test_text_and_id_fields_and_nested_metadata(tmp_path: Path) -> None:
    p = _write(tmp_path / "a.jsonl", [b'{"doc": 7, "content": "hi", "meta": {"a": [1, 2]}, "text": "other"}'])
    rows = _read(p, text_field="content", id_field="doc")
    assert rows == [{"id": "7", "text": "hi", "meta": '{"a":[1,2]}', "orig_text": "other"}]


def test_batches_cut_by_count_and_bytes(tmp_path: Path) -> None:
    p = _write(tmp_path / "a.jsonl", [orjson.dumps({"text": "x" * 100}) for _ in range(10)])
    sizes = [b.num_rows for b in read_jsonl(str(p), ReadOptions(batch_size=4), BadRecords())]
    assert sizes == [4, 4, 2]
    sizes = [b.num_rows for b in read_jsonl(str(p), ReadOptions(max_batch_bytes=250), BadRecords())]
    assert sizes == [3, 3, 3, 1]


@pytest.mark.parametrize(
    ("line", "reason", "message"),
    [
        (b'{"text": "a', "malformed_json", "malformed JSON"),
        (b'{"text": "caf\xe9"}', "invalid_utf8", "invalid UTF-8"),
        (b'{"body": "x"}', "missing_text", "no 'text' field"),
        (b'{"text": ["x"]}', "text_not_string", "is list, not a string"),
        (b'"just a string"', "not_an_object", "expected a JSON object"),
    ],
)
def test_bad_line_names_file_and_line(tmp_path: Path, line: bytes, reason: str, message: str) -> None:
    p = _write(tmp_path / "bad.jsonl", [b'{"text": "ok"}', line, b'{"text": "after"}'])
    with pytest.raises(InputDataError, match=message) as info:
        _read(p)
    assert info.value.line == 2
    assert info.value.reason == reason
    assert str(info.value).startswith(f"{p}:2: ")
    bad = BadRecords(quarantine=True)
    rows = [r for b in read_jsonl(str(p), ReadOptions(), bad) for r in b.to_pylist()]
    assert [r["text"] for r in rows] == ["ok", "after"]
    assert bad.count == 1
    assert bad.records[0]["reason"] == reason
    assert bad.records[0]["line"] == 2


def test_truncated_gzip(tmp_path: Path) -> None:
    data = gzip.compress(b"".join(orjson.dumps({"text": f"doc {i} " * 50}) + b"\n" for i in range(2000)))
    p = tmp_path / "cut.jsonl.gz"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputDataError, match="truncated or corrupt") as info:
        _read(p)
    assert info.value.reason == "truncated_file"
    assert info.value.line is not None
    assert info.value.line > 1
    bad = BadRecords(quarantine=True)
    n = sum(b.num_rows for b in read_jsonl(str(p), ReadOptions(), bad))
    assert 0 < n < 2000
    assert bad.count == 1


def test_truncated_zstd(tmp_path: Path) -> None:
    data = zstandard.ZstdCompressor().compress(b'{"text": "x"}\n' * 5000)
    p = tmp_path / "cut.jsonl.zst"
    p.write_bytes(data[:-10])
    with pytest.raises(InputDataError, match="truncated or corrupt"):
        _read(p)


def test_empty_file(tmp_path: Path) -> None:
    p = _write(tmp_path / "e.jsonl", [b"", b"  "])
    with pytest.raises(InputDataError, match="the file is empty") as info:
        _read(p)
    assert info.value.reason == "empty_file"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="no such file"):
        _read(tmp_path / "nope.jsonl")


def test_huge_single_document(tmp_path: Path) -> None:
    text = ("word " * 10_000_000)[: 50 * 2**20]  # a 50 MB document
    p = _write(tmp_path / "big.jsonl", [orjson.dumps({"id": "big", "text": text}), b'{"text": "small"}'])
    batches = list(read_jsonl(str(p), ReadOptions(max_batch_bytes=16 * 2**20), BadRecords()))
    assert [b.num_rows for b in batches] == [1, 1]  # cut by bytes: the huge one travels alone
    assert batches[0]["text"][0].as_py() == text


json_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=200)
record = st.fixed_dictionaries(
    {"text": json_text},
    optional={
        "id": st.text(min_size=1, max_size=20),
        "lang": st.sampled_from(["en", "fr", None]),
        "score": st.floats(allow_nan=False, allow_infinity=False),
        "n": st.integers(-(2**62), 2**62),
    },
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(records=st.lists(record, min_size=1, max_size=30))
def test_roundtrip_property(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    p = tmp_path / "r.jsonl.gz"
    with gzip.open(p, "wt", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    rows = _read(p, batch_size=7)
    assert [r["text"] for r in rows] == [r["text"] for r in records]
    assert [r["id"] for r in rows] == [rec.get("id", f"r.jsonl.gz:{i + 1}") for i, rec in enumerate(records)]
    for got, want in zip(rows, records, strict=True):
        for key in ("lang", "score", "n"):
            if key in want:
                assert got[key] == want[key]


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(["2013-05-18T07:24:47Z", "2020-01-01", "12:00:00"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=4,
)
_RECORD = st.fixed_dictionaries(
    {"text": st.one_of(st.text(max_size=30), st.text(max_size=30), st.none(), st.integers())},
    optional={
        "id": st.one_of(st.text(max_size=6), st.integers(-5, 10**6), st.none(), st.floats(0, 9)),
        "a": _JSON,
        "n": st.one_of(st.integers(-(2**64), 2**64), st.floats(allow_nan=False)),
        "date": st.sampled_from(["2013-05-18T07:24:47Z", "2024-02-30", "soon"]),
    },
)
_JUNK = st.sampled_from(
    [
        b'{"text": "a',
        b"not json",
        b"",
        b"   ",
        b"[1]",
        b'{"text": NaN}',
        b'{"text": "x", "n": Infinity}',
        b'{"text": "caf\xe9"}',
        b'{"text": "x", "text": "y"}',
        b'{"text": "\\ud800"}',
        b"{}{}",
        b'"s"',
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(
        st.one_of(_RECORD.map(lambda r: json.dumps(r, ensure_ascii=False).encode()), _JUNK),
        min_size=1,
        max_size=25,
    ),
    batch_size=st.integers(1, 8),
)
def test_arrow_blocks_equal_the_record_path(tmp_path: Path, lines: list[bytes], batch_size: int) -> None:
    """Whatever the lines, the reader (Arrow's JSON reader on plain blocks) gives the same documents,
    the same column types and the same bad records as orjson record by record, block for block."""
    from gencommons.data.io.jsonl import _Batches, _Block, _record_batches

    def block(lines: list[tuple[int, bytes]]) -> _Block:
        b = _Block()
        for line_no, raw in lines:
            b.add(line_no, raw)
        return b

    p = _write(tmp_path / "h.jsonl", lines)
    opts = ReadOptions(batch_size=batch_size)
    got_bad = BadRecords(quarantine=True)
    got = list(read_jsonl(str(p), opts, got_bad))
    kept = [(i + 1, line + b"\n") for i, line in enumerate(lines) if line.strip()]
    want_bad = BadRecords(quarantine=True)
    gather = _Batches(opts)
    want = [
        b
        for k in range(0, len(kept), batch_size)
        for t in _record_batches(block(kept[k : k + batch_size]), str(p), opts, want_bad)
        for b in gather.add(t)
    ]
    want += list(gather.flush())
    assert [(b.schema, b.to_pylist()) for b in got] == [(b.schema, b.to_pylist()) for b in want]
    assert [(r["line"], r["reason"]) for r in got_bad.records] == [
        (r["line"], r["reason"]) for r in want_bad.records
    ] + ([(None, "empty_file")] if not kept else [])


@given(
    lines=st.lists(
        st.tuples(st.binary(max_size=30).filter(lambda b: b"\n" not in b), st.booleans()), max_size=20
    )
)
def test_block_holds_each_line_once_and_gives_it_back_as_read(lines: list[tuple[bytes, bool]]) -> None:
    """A block's bytes are its lines, each ending in a newline (what Arrow parses); ``records`` gives
    every line back exactly as read, with its number (what the record path and the quarantine see)."""
    from gencommons.data.io.jsonl import _Block

    block = _Block()
    raws = [body + (b"\n" if nl else b"") for body, nl in lines]
    for i, raw in enumerate(raws):
        block.add(2 * i + 1, raw)
    assert len(block) == len(raws)
    assert bytes(block.data) == b"".join(body + b"\n" for body, _ in lines)
    assert list(block.records()) == [(2 * i + 1, raw) for i, raw in enumerate(raws)]


def test_plain_blocks_take_the_arrow_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain records (string text, int or missing ids, flat metadata, ISO dates) never reach the
    record-by-record path; the dates stay strings as written."""
    from gencommons.data.io import jsonl

    recs = [{"id": i, "text": f"t{i}", "score": 0.5, "date": "2013-05-18T07:24:47Z"} for i in range(9)]
    recs.append({"text": "no id", "score": 1})
    p = _write(tmp_path / "p.jsonl.gz", [orjson.dumps(r) for r in recs])

    def record_path(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the record-by-record path was used")

    monkeypatch.setattr(jsonl, "_record_batches", record_path)
    rows = _read(p)
    assert [r["id"] for r in rows] == [*(str(i) for i in range(9)), "p.jsonl.gz:10"]
    assert rows[0] == {"id": "0", "text": "t0", "score": 0.5, "date": "2013-05-18T07:24:47Z"}


def test_files_arrow_cannot_take_stop_trying(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nested metadata on every line: after two blocks Arrow could not take, the rest of the file goes
    record by record without trying Arrow again, and a plain block after a taken one still uses it."""
    from gencommons.data.io import jsonl

    calls: list[int] = []
    real = jsonl._arrow_block

    def counting(block: Any, path: str, opts: ReadOptions) -> Any:
        calls.append(block.lines[0])
        return real(block, path, opts)

    monkeypatch.setattr(jsonl, "_arrow_block", counting)
    nested = _write(tmp_path / "n.jsonl", [orjson.dumps({"text": f"t{i}", "m": {"k": i}}) for i in range(10)])
    rows = _read(nested, batch_size=2)
    assert [r["m"] for r in rows] == [f'{{"k":{i}}}' for i in range(10)]
    assert calls == [1, 3]  # blocks starting at lines 1 and 3; lines 5, 7, 9 not tried
    calls.clear()
    plain = _write(tmp_path / "p.jsonl", [orjson.dumps({"text": f"t{i}"}) for i in range(6)])
    assert len(_read(plain, batch_size=2)) == 6
    assert calls == [1, 3, 5]


def test_small_blocks_gather_into_full_batches_of_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks of a few lines (``PARSE_BYTES``) are gathered into batches of ``batch_size`` rows
    whose columns are the blocks' chunks, with the same rows as one block per batch."""
    from gencommons.data.io import jsonl

    recs = [
        {"text": f"document {i} " * (i % 7 + 1), "n": i, "src": "w" if i % 3 else None} for i in range(100)
    ]
    p = _write(tmp_path / "a.jsonl.gz", [orjson.dumps(r) for r in recs])
    whole = list(read_jsonl(str(p), ReadOptions(batch_size=30), BadRecords()))
    monkeypatch.setattr(jsonl, "PARSE_BYTES", 200)
    pieces = list(read_jsonl(str(p), ReadOptions(batch_size=30), BadRecords()))
    assert [b.num_rows for b in pieces] == [30, 30, 30, 10]
    assert all(b["text"].num_chunks > 1 for b in pieces)
    assert [b.schema for b in pieces] == [b.schema for b in whole]
    assert [r for b in pieces for r in b.to_pylist()] == [r for b in whole for r in b.to_pylist()]


def test_columns_of_different_types_in_two_blocks_go_in_separate_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A field that is an integer in one block and a string (or a float) in the next is never cast
    to gather the blocks: each batch keeps its values exactly."""
    from gencommons.data.io import jsonl

    monkeypatch.setattr(jsonl, "PARSE_BYTES", 1)  # a block per line
    lines = [
        {"text": "a", "v": 9007199254740993},
        {"text": "b", "v": 2},
        {"text": "c", "v": "two"},
        {"text": "d", "v": 0.5},
    ]
    p = _write(tmp_path / "a.jsonl", [orjson.dumps(r) for r in lines])
    batches = list(read_jsonl(str(p), ReadOptions(batch_size=10), BadRecords()))
    assert [b.num_rows for b in batches] == [2, 1, 1]
    assert [r["v"] for b in batches for r in b.to_pylist()] == [9007199254740993, 2, "two", 0.5]


def test_integers_beyond_2_53_among_floats_stay_exact(tmp_path: Path) -> None:
    """Arrow would read the column as doubles and round the integer: such a block takes the record
    path, which keeps it exact (found by the hypothesis test above)."""
    p = _write(tmp_path / "a.jsonl", [b'{"text": "", "n": 9007199254740993}', b'{"text": "", "n": 0.5}'])
    assert [r["n"] for r in _read(p)] == ["9007199254740993", "0.5"]


@given(
    sizes=st.lists(st.integers(0, 7), max_size=8),
    batch_size=st.integers(1, 6),
    max_bytes=st.integers(1, 60),
)
def test_batches_gather_every_row_in_order_and_cut_where_told(
    sizes: list[int], batch_size: int, max_bytes: int
) -> None:
    import pyarrow as pa

    from gencommons.data.io.jsonl import _Batches

    tables, n = [], 0
    for size in sizes:
        tables.append(pa.table({"id": [str(n + i) for i in range(size)], "text": ["xy"] * size}))
        n += size
    gather = _Batches(ReadOptions(batch_size=batch_size, max_batch_bytes=max_bytes))
    batches = [b for t in tables for b in gather.add(t)] + list(gather.flush())
    assert [r["id"] for b in batches for r in b.to_pylist()] == [str(i) for i in range(n)]
    assert all(0 < b.num_rows <= batch_size for b in batches)
    for b in batches[:-1]:  # each batch is cut at batch_size rows or once its text reaches max_bytes
        assert b.num_rows == batch_size or b["text"].nbytes >= max_bytes
