"""WARC reading: which records become documents, decoding, counts of what was skipped, and broken files."""

from __future__ import annotations

import gzip
import io
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from gencommons.data.io.html import extractors
from gencommons.data.io.reading import BadRecords, ReadOptions, detect_format, readers
from gencommons.data.io.warc import read_warc
from gencommons.errors import InputDataError, UnknownNameError

SAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sample" / "debian-docs.warc.gz"
EXTRACTORS = extractors.names()
DATE = "2024-05-01T12:00:00Z"

PROSE = (
    "<p>The lighthouse keeper climbed the stairs every evening at dusk to light the lamp, and "
    "every morning he wrote the weather, the passing ships and the state of the sea in his log.</p>"
)


def _read(
    path: Path, *, bad: BadRecords | None = None, **opts: Any
) -> tuple[list[dict[str, Any]], Counter[str]]:
    """Every row, and the generator's return value (the skip counts)."""
    gen = read_warc(str(path), ReadOptions(**opts), bad if bad is not None else BadRecords())
    rows: list[dict[str, Any]] = []
    while True:
        try:
            rows.extend(next(gen).to_pylist())
        except StopIteration as stop:
            return rows, stop.value


def _page(title: str, body: str, *, meta: str = "") -> str:
    return f"<html><head>{meta}<title>{title}</title></head><body><article><h1>{title}</h1>{body}</article></body></html>"


def _write_warc(path: Path, records: list[dict[str, Any]], *, compress: bool) -> Path:
    """A WARC of response (or request) records; each dict: url, body, headers, status, type, id."""
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=compress)
    for i, r in enumerate(records):
        kind = r.get("type", "response")
        if kind == "request":
            http = StatusAndHeaders(
                f"GET {r['url']} HTTP/1.1", [("Host", "example.org")], is_http_request=True
            )
        else:
            http = StatusAndHeaders(r.get("status", "200 OK"), r.get("headers", []), protocol="HTTP/1.1")
        body = r.get("body", b"")
        writer.write_record(
            writer.create_warc_record(
                r["url"],
                kind,
                payload=io.BytesIO(body),
                length=len(body),
                http_headers=http,
                warc_headers_dict={
                    "WARC-Record-ID": f"<urn:uuid:00000000-0000-0000-0000-{i:012d}>",
                    "WARC-Date": DATE,
                },
            )
        )
    path.write_bytes(buf.getvalue())
    return path


def _chunked(data: bytes) -> bytes:
    return (
        b"".join(b"%x\r\n%s\r\n" % (len(data[i : i + 50]), data[i : i + 50]) for i in range(0, len(data), 50))
        + b"0\r\n\r\n"
    )


CAFE = "Café crème brûlée, naïve façade, Zürich. " * 4
TINY = [
    # 0: a page whose header declares UTF-8 while its bytes are windows-1252
    {
        "url": "http://example.org/wrong-charset",
        "headers": [("Content-Type", "text/html; charset=utf-8")],
        "body": _page("Wrong charset", f"<p>{CAFE}</p>{PROSE}").encode("cp1252"),
    },
    # 1: the reverse: declared ISO-8859-1, really UTF-8
    {
        "url": "http://example.org/latin1-header",
        "headers": [("Content-Type", "text/html; charset=ISO-8859-1")],
        "body": _page("Latin-1 header", f"<p>{CAFE}</p>{PROSE}").encode("utf-8"),
    },
    # 2: not HTML
    {
        "url": "http://example.org/logo.png",
        "headers": [("Content-Type", "image/png")],
        "body": b"\x89PNG\r\n\x1a\n",
    },
    {
        "url": "http://example.org/data.json",
        "headers": [("Content-Type", "application/json")],
        "body": b'{"a": 1}',
    },
    # 4: a request record
    {"url": "http://example.org/wrong-charset", "type": "request"},
    # 5: a page with no main text
    {
        "url": "http://example.org/empty",
        "headers": [("Content-Type", "text/html")],
        "body": b"<html><head><title>Loading</title><script>location.href='/x'</script></head><body></body></html>",
    },
    # 6: a 404 page
    {
        "url": "http://example.org/missing",
        "status": "404 Not Found",
        "headers": [("Content-Type", "text/html")],
        "body": _page("Not found", PROSE).encode(),
    },
    # 7: gzip content coding inside chunked transfer coding; charset only in <meta>; XHTML type
    {
        "url": "http://example.org/coded",
        "headers": [
            ("Content-Type", "application/xhtml+xml"),
            ("Transfer-Encoding", "chunked"),
            ("Content-Encoding", "gzip"),
        ],
        "body": _chunked(
            gzip.compress(
                _page("Coded", f"<p>Привет, мир. {PROSE}</p>", meta='<meta charset="koi8-r">').encode(
                    "koi8-r"
                ),
                mtime=0,
            )
        ),
    },
    # 8: the header says gzip but the archiver stored the decoded body
    {
        "url": "http://example.org/already-decoded",
        "headers": [("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
        "body": _page("Already decoded", PROSE).encode(),
    },
]


@pytest.fixture(params=[True, False], ids=["warc.gz", "warc"])
def tiny_warc(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    compress = request.param
    return _write_warc(tmp_path / ("tiny.warc.gz" if compress else "tiny.warc"), TINY, compress=compress)


@pytest.mark.parametrize("extractor", EXTRACTORS)
def test_tiny_warc_keeps_html_responses_and_counts_the_rest(tiny_warc: Path, extractor: str) -> None:
    rows, counts = _read(tiny_warc, extractor=extractor)
    by_url = {r["url"]: r for r in rows}
    assert sorted(by_url) == [
        "http://example.org/already-decoded",
        "http://example.org/coded",
        "http://example.org/latin1-header",
        "http://example.org/wrong-charset",
    ]
    assert "Café crème brûlée, naïve façade, Zürich." in by_url["http://example.org/wrong-charset"]["text"]
    assert "Café crème brûlée, naïve façade, Zürich." in by_url["http://example.org/latin1-header"]["text"]
    assert "Привет, мир." in by_url["http://example.org/coded"]["text"]
    assert "lighthouse keeper" in by_url["http://example.org/already-decoded"]["text"]
    assert counts == Counter(records=9, kept=4, not_html=2, not_response=1, no_text=1, http_status=1)
    first = by_url["http://example.org/wrong-charset"]
    assert first["id"] == "<urn:uuid:00000000-0000-0000-0000-000000000000>"
    assert first["timestamp"] == DATE
    assert first["content_type"] == "text/html"
    assert first["warc_file"] == str(tiny_warc)
    assert by_url["http://example.org/coded"]["content_type"] == "application/xhtml+xml"


def test_registered_and_claims_its_extensions(tmp_path: Path) -> None:
    assert readers["warc"] is read_warc
    assert (
        detect_format("crawl/CC-MAIN-1.warc.gz")
        == detect_format("x.warc")
        == detect_format("x.arc.gz")
        == "warc"
    )
    (tmp_path / "sub").mkdir()
    p = _write_warc(tmp_path / "sub" / "a.warc.gz", TINY[:1], compress=True)
    rows, _ = _read(p, root=str(tmp_path))
    assert rows[0]["warc_file"] == "sub/a.warc.gz"


def test_unknown_extractor_fails_before_reading(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'resiliparse'"):
        _read(tmp_path / "never-opened.warc.gz", extractor="resiliparser")


def test_batches_cut_by_count(tmp_path: Path) -> None:
    pages = [
        {
            "url": f"http://example.org/{i}",
            "headers": [("Content-Type", "text/html")],
            "body": _page(f"Page {i}", PROSE).encode(),
        }
        for i in range(5)
    ]
    p = _write_warc(tmp_path / "a.warc.gz", pages, compress=True)
    sizes = [t.num_rows for t in read_warc(str(p), ReadOptions(batch_size=2), BadRecords())]
    assert sizes == [2, 2, 1]


def test_corrupt_content_coding_goes_to_bad(tmp_path: Path) -> None:
    broken = {
        "url": "http://example.org/broken",
        "headers": [("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
        "body": gzip.compress(_page("Broken", PROSE).encode())[:-40],
    }
    p = _write_warc(tmp_path / "a.warc.gz", [broken, TINY[1]], compress=True)
    with pytest.raises(InputDataError, match="HTTP coding gzip") as err:
        _read(p)
    assert err.value.reason == "bad_content_encoding"
    assert (err.value.path, err.value.line) == (str(p), 1)
    bad = BadRecords(quarantine=True)
    rows, _ = _read(p, bad=bad)
    assert [r["url"] for r in rows] == ["http://example.org/latin1-header"]
    assert [r["reason"] for r in bad.records] == ["bad_content_encoding"]


def test_huge_pages_are_skipped_not_read(tmp_path: Path) -> None:
    bomb = gzip.compress(b"<p>" + b"a" * (40 * 2**20), compresslevel=1)  # 40 MiB of HTML from ~40 KB
    records = [
        {
            "url": "http://example.org/bomb",
            "headers": [("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
            "body": bomb,
        },
        TINY[1],
    ]
    rows, counts = _read(_write_warc(tmp_path / "a.warc.gz", records, compress=True))
    assert [r["url"] for r in rows] == ["http://example.org/latin1-header"]
    assert counts["too_large"] == 1


# --- broken files ---------------------------------------------------------------------------------------


def _pages(n: int) -> list[dict[str, Any]]:
    return [
        {
            "url": f"http://example.org/p{i}",
            "headers": [("Content-Type", "text/html; charset=utf-8")],
            "body": _page(f"Page {i}", PROSE * 20).encode(),
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("name", ["cut.warc.gz", "cut.warc"])
def test_truncated_file_names_file_and_record(tmp_path: Path, name: str) -> None:
    whole = _write_warc(
        tmp_path / ("whole" + name.removeprefix("cut")), _pages(10), compress=name.endswith(".gz")
    )
    data = whole.read_bytes()
    cut = tmp_path / name
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(InputDataError) as err:
        _read(cut)
    assert err.value.reason == "truncated_file"
    assert err.value.path == str(cut)
    assert str(cut) in str(err.value)
    assert err.value.line is not None
    assert 5 <= err.value.line <= 8
    assert f"record {err.value.line}" in str(err.value)

    bad = BadRecords(quarantine=True)
    rows, _ = _read(cut, bad=bad)
    assert [r["reason"] for r in bad.records] == ["truncated_file"]
    assert 4 <= len(rows) < 10  # what came before the cut is kept
    assert [r["url"] for r in rows] == [f"http://example.org/p{i}" for i in range(len(rows))]


def test_truncated_inside_a_skipped_record(tmp_path: Path) -> None:
    image = {
        "url": "http://example.org/photo.jpg",
        "headers": [("Content-Type", "image/jpeg")],
        "body": b"\xff" * 5000,
    }
    whole = _write_warc(tmp_path / "whole.warc", [*_pages(2), image], compress=False).read_bytes()
    cut = tmp_path / "cut.warc"
    cut.write_bytes(whole[:-2000])  # inside the image's body, which is skipped unread
    bad = BadRecords(quarantine=True)
    rows, _ = _read(cut, bad=bad)
    assert len(rows) == 2
    assert [(r["reason"], r["line"]) for r in bad.records] == [("truncated_file", 3)]


def test_truncated_sample(tmp_path: Path) -> None:
    cut = tmp_path / "debian-docs.warc.gz"
    cut.write_bytes(SAMPLE.read_bytes()[:300_000])
    with pytest.raises(
        InputDataError, match=r"debian-docs\.warc\.gz:\d+: the file is truncated in record \d+"
    ):
        _read(cut)


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.warc", b"", "empty_file"),
        ("empty.warc.gz", gzip.compress(b""), "empty_file"),
        ("notes.warc", b"these are not WARC records\n" * 10, "corrupt_file"),
        ("header-only.warc.gz", b"\x1f\x8b\x08\x00", "truncated_file"),
        ("garbage.warc.gz", gzip.compress(b"")[:10] + b"\xff" * 64, "corrupt_file"),
    ],
)
def test_empty_or_not_warc(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    p = tmp_path / name
    p.write_bytes(data)
    with pytest.raises(InputDataError) as err:
        _read(p)
    assert err.value.reason == reason
    assert err.value.path == str(p)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="no such file"):
        _read(tmp_path / "nope.warc.gz")


def test_arc_file(tmp_path: Path) -> None:
    def record(header: str, body: bytes) -> bytes:
        return f"{header} {len(body)}\n".encode() + body + b"\n"

    http = b"HTTP/1.0 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + _page("Old", PROSE).encode()
    data = record(
        "filedesc://old.arc 0.0.0.0 19961104142103 text/plain",
        b"1 0 Test\nURL IP-address Archive-date Content-type Archive-length\n",
    ) + record("http://example.com/old 1.2.3.4 19961104142103 text/html", http)
    p = tmp_path / "old.arc.gz"
    p.write_bytes(gzip.compress(data))
    rows, counts = _read(p)
    assert [(r["id"], r["url"], r["timestamp"]) for r in rows] == [
        ("old.arc.gz:2", "http://example.com/old", "1996-11-04T14:21:03Z")
    ]
    assert "lighthouse keeper" in rows[0]["text"]
    assert counts == Counter(records=2, kept=1, not_response=1)


# --- the bundled sample ---------------------------------------------------------------------------------

# letters each language's pages must contain once decoded
SCRIPTS = {
    "ar-MA": "[\u0600-\u06ff]",
    "de-DE": "[äöüß]",
    "en-US": "the",
    "es-ES": "[áéíóñ]",
    "fr-FR": "[éèàç]",
    "it-IT": "[àèéìò]",
    "ja-JP": "[\u3040-\u30ff]",
    "pt-BR": "[ãçéõ]",
    "ru-RU": "[\u0400-\u04ff]",
    "zh-CN": "[\u4e00-\u9fff]",
}


@pytest.mark.parametrize("extractor", EXTRACTORS)
def test_sample_warc(extractor: str) -> None:
    rows, counts = _read(SAMPLE, extractor=extractor)
    assert counts == Counter(records=429, not_response=215, not_html=3, kept=211)
    assert len({r["id"] for r in rows}) == 211
    assert all(r["id"].startswith("<urn:uuid:") and r["content_type"] == "text/html" for r in rows)
    by_url = {r["url"]: r["text"] for r in rows}
    scope = by_url["https://www.debian.org/doc/manuals/developers-reference/scope.en.html"]
    assert "recommended procedures and the available resources for Debian developers" in " ".join(
        scope.split()
    )
    for lang, letters in SCRIPTS.items():
        text = "".join(
            t for url, t in by_url.items() if url.startswith(f"https://debian-handbook.info/browse/{lang}/")
        )
        assert len(re.findall(letters, text)) > 100, lang  # mis-decoded UTF-8 has none of these
