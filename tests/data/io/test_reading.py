"""``reading.open_input``'s decompression: .gz through ISA-L, members, truncation and corruption."""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gencommons.data.io.reading import GZIP_ERRORS, _gunzip, _unzstd, open_input

members = st.lists(st.binary(max_size=3000), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(parts=members, level=st.integers(0, 9))
def test_gunzip_equals_gzip_decompress(parts: list[bytes], level: int) -> None:
    blob = b"".join(gzip.compress(p, compresslevel=level) for p in parts)
    assert _gunzip(io.BytesIO(blob)).read() == gzip.decompress(blob) == b"".join(parts)


@settings(max_examples=60, deadline=None)
@given(parts=members, read=st.integers(1, 5000))
def test_any_read_size_decodes_the_same(parts: list[bytes], read: int) -> None:
    """Compressed bytes are read ``READ_BYTES`` at a time (64 KB); any size, even one splitting every
    member header, decodes to the same bytes."""
    from gencommons.data.io import reading

    blob = b"".join(gzip.compress(p) for p in parts)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reading, "READ_BYTES", read)
        assert _gunzip(io.BytesIO(blob)).read() == b"".join(parts)


@settings(max_examples=60, deadline=None)
@given(parts=members, cut=st.floats(0.05, 0.95))
def test_a_cut_stream_gives_every_complete_member_then_eof_error(parts: list[bytes], cut: float) -> None:
    """Everything before the cut comes out (at least every complete member), then EOFError."""
    compressed = [gzip.compress(p) for p in parts]
    blob = b"".join(compressed)
    at = max(1, int(len(blob) * cut))
    ends = [sum(len(c) for c in compressed[: i + 1]) for i in range(len(compressed))]
    complete = b"".join(p for p, e in zip(parts, ends, strict=True) if e <= at)
    got = bytearray()
    reader = _gunzip(io.BytesIO(blob[:at]))
    try:
        while chunk := reader.read1(4096):
            got += chunk
    except GZIP_ERRORS:
        pass
    else:
        assert at in ends  # a cut between members is a clean end
    full = b"".join(parts)
    assert full.startswith(bytes(got))
    assert len(got) >= len(complete)


def _lines_before_error(fh: io.IOBase) -> tuple[int, BaseException | None]:
    n = 0
    try:
        for _ in fh:
            n += 1
    except EOFError as e:
        return n, e
    return n, None


def test_truncated_single_member_raises_eof_after_the_data_before_the_cut() -> None:
    data = b"".join(b"line %d %s\n" % (i, b"x" * 200) for i in range(20000))
    cut = gzip.compress(data)[: len(gzip.compress(data)) // 2]
    lines, err = _lines_before_error(_gunzip(io.BytesIO(cut)))
    assert isinstance(err, EOFError)
    assert "gzip stream ends inside a member" in str(err)
    n, gz_err = _lines_before_error(gzip.GzipFile(fileobj=io.BytesIO(cut)))  # the gzip module
    assert isinstance(gz_err, EOFError)
    assert lines >= n > 0


@pytest.mark.parametrize(
    "blob",
    [b"not gzip at all", gzip.compress(b"abc" * 1000)[:20] + bytes(30) + gzip.compress(b"abc" * 1000)[50:]],
)
def test_corrupt_gzip_raises_a_gzip_error(blob: bytes) -> None:
    with pytest.raises(GZIP_ERRORS):
        _gunzip(io.BytesIO(blob)).read()


def test_zstd_frames_and_cut() -> None:
    zstandard = pytest.importorskip("zstandard")
    frames = [zstandard.ZstdCompressor().compress(b"frame %d\n" % i * 100) for i in range(5)]
    blob = b"".join(frames)
    assert _unzstd(io.BytesIO(blob)).read() == b"".join(b"frame %d\n" % i * 100 for i in range(5))
    with pytest.raises(EOFError, match="zstd stream ends inside a member"):
        _unzstd(io.BytesIO(blob[:-3])).read()


def test_open_input_closes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"text": "x"}\n'))
    with open_input(str(path)) as fh:
        assert fh.read() == b'{"text": "x"}\n'
    assert fh.closed
    assert zlib.error in GZIP_ERRORS
