"""WARC input (.warc, .warc.gz; legacy .arc, .arc.gz): HTML responses to documents of main text.

Every ``response`` record whose HTTP status is 2xx and whose content type is HTML (``text/html``,
``application/xhtml+xml``) becomes one document: its body loses its transfer and content codings
(chunked, gzip, deflate, br, zstd), is decoded (``html.decode_html``: HTTP charset, ``<meta charset>``,
detector) and reduced to its main text by the extractor ``ReadOptions.extractor`` names
(``html.extractors``). The id is the ``WARC-Record-ID`` (ARC records have none: ``<file>:<record
number>``); the metadata columns are ``url`` (``WARC-Target-URI``), ``timestamp`` (``WARC-Date`` as
written), ``content_type`` and ``warc_file`` (the path, relative to ``ReadOptions.root`` when set).

Skipped and counted, not errors (a crawl is mostly this): records of other types (``request``,
``metadata``, ``warcinfo``, ``revisit``, ...) as ``not_response``, responses that aren't HTML
(``not_html``), non-2xx statuses (``http_status``: a 404 page isn't the document at its URL), and
pages whose extraction is empty (``no_text``: navigation-only pages, redirects with a body, framesets).
The generator's return value is that ``Counter``, also logged per file; ``counts = yield from
read_warc(...)`` gets it.

Sent to ``bad``: a file cut short (``truncated_file``: a gzip member or a record body ends early; the
message names the record number reached), a file that isn't WARC (``corrupt_file``), an HTML response
whose HTTP header or content coding can't be read (``malformed_http``, ``bad_content_encoding``), and
a file without a single record (``empty_file``). A truncated file still yields the documents before
the cut when ``bad`` quarantines.

Records are read with FastWARC (ARC with warcio, which FastWARC can't read) from a stream opened by
``open_input``, so remote paths work and a truncated gzip member is noticed (FastWARC's own gzip
reader stops silently at the cut).
"""

from __future__ import annotations

import io
import logging
import re
import zlib
from collections import Counter
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import IO, Any

import pyarrow as pa

from gencommons.data.io.html import Extractor, decode_html, extractors
from gencommons.data.io.reading import BadRecords, BatchBuilder, ReadOptions, open_input, readers
from gencommons.errors import InputDataError, MissingDependencyError

log = logging.getLogger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';\s]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class _Response:
    """One HTTP response record, as either backend reads it."""

    record_id: str | None
    url: str | None
    date: str | None
    status: int | None
    content_type: str | None  # the HTTP Content-Type header value, parameters included
    codings: tuple[str, ...] = ()  # HTTP transfer and content codings, in the order to undo them
    body: bytes = b""  # as stored
    error: str | None = None  # why the HTTP header couldn't be read


class _Cursor:
    """How far a backend got: for the message when the file ends early or breaks."""

    def __init__(self) -> None:
        self.number = 0  # records started, every type counted; 1-based number of the current one
        self.offset: int | None = None  # where the current record starts in the uncompressed stream
        self.inside = False  # the current record started and isn't finished

    def start(self, offset: int | None) -> None:
        self.number += 1
        self.offset = offset
        self.inside = True

    def where(self) -> tuple[int, str]:
        """(record number, description) of the record being read when reading failed."""
        if self.inside:
            at = f", which starts at byte {self.offset} of the uncompressed stream" if self.offset is not None else ""
            return self.number, f"in record {self.number}{at}"
        return self.number + 1, f"after record {self.number}"


@readers.register("warc")
def read_warc(path: str, opts: ReadOptions, bad: BadRecords) -> Generator[pa.Table, None, Counter[str]]:
    """Yield batches of main text from the HTML responses of a WARC (or ARC) file."""
    extract = extractors[opts.extractor]  # an unknown name fails before any file is opened
    warc_file = path[len(opts.root):].lstrip("/") if opts.root and path.startswith(opts.root) else path
    counts: Counter[str] = Counter()
    builder = BatchBuilder(opts)
    cursor = _Cursor()
    is_arc = re.search(r"\.arc(\.\w+)?$", path.lower()) is not None
    with open_input(path) as fh:
        records = _arc_responses(fh, cursor) if is_arc else _warc_responses(fh, cursor)
        try:
            for resp in records:
                doc = _to_document(resp, path=path, warc_file=warc_file, number=cursor.number, counts=counts,
                                   bad=bad, extract=extract)
                cursor.inside = False
                if doc is not None:
                    counts["kept"] += 1
                    out = builder.add(*doc)
                    if out is not None:
                        yield out
        except EOFError as e:
            line, where = cursor.where()
            bad(InputDataError(f"the file is truncated {where} ({e})", path=path, line=line,
                               reason="truncated_file"))
        except (OSError, zlib.error) as e:
            line, where = cursor.where()
            bad(InputDataError(f"not a readable WARC file {where} ({type(e).__name__}: {e})", path=path,
                               line=line, reason="corrupt_file"))
        if cursor.number == 0:
            size = fh.tell()  # bytes read (uncompressed), all of them: the iterator found no record
            if size:
                bad(InputDataError(f"not a WARC file: no WARC record in its {size} bytes", path=path,
                                   reason="corrupt_file"))
            else:
                bad(InputDataError("the file is empty (no WARC records)", path=path, reason="empty_file"))
    counts["records"] = cursor.number
    last = builder.flush()
    if last is not None:
        yield last
    log.info("%s: %d records, %d documents; skipped %s", path, cursor.number, counts["kept"],
             ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k not in ("records", "kept")) or "none")
    return counts


def _to_document(
    resp: _Response | None, *, path: str, warc_file: str, number: int, counts: Counter[str], bad: BadRecords,
    extract: Extractor,
) -> tuple[str, str, dict[str, Any]] | None:
    """(id, text, meta) of one record, or None after counting why it was skipped."""
    if resp is None:
        counts["not_response"] += 1
        return None
    if resp.error is not None:
        bad(InputDataError(f"record {resp.record_id}: unreadable HTTP header ({resp.error})", path=path,
                           line=number, reason="malformed_http"))
        return None
    media_type = (resp.content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in HTML_TYPES:
        counts["not_html"] += 1
        return None
    if resp.status is None or not 200 <= resp.status < 300:
        counts["http_status"] += 1
        return None
    try:
        body = _undo_codings(resp.body, resp.codings)
    except (ValueError, OSError, zlib.error) as e:
        bad(InputDataError(f"record {resp.record_id}: can't undo the HTTP coding {', '.join(resp.codings)} ({e})",
                           path=path, line=number, reason="bad_content_encoding"), resp.body[:2000])
        return None
    charset = _CHARSET.search(resp.content_type or "")
    text = extract(decode_html(body, declared=charset.group(1) if charset else None)).strip()
    if not text:
        counts["no_text"] += 1
        return None
    doc_id = resp.record_id or f"{warc_file.rsplit('/', 1)[-1]}:{number}"
    return doc_id, text, {"url": resp.url, "timestamp": resp.date, "content_type": media_type,
                          "warc_file": warc_file}


def _warc_responses(fh: IO[bytes], cursor: _Cursor) -> Iterator[_Response | None]:
    """Every record of a WARC stream: a _Response for a response record, None for any other."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    # no auto_decode: FastWARC raises, and stops the whole file, on a body whose coding header lies
    for rec in ArchiveIterator(fh, record_types=WarcRecordType.any_type, parse_http=False, quirks_mode=True):
        cursor.start(rec.stream_pos)
        if rec.record_type != WarcRecordType.response:
            yield None
            continue
        headers = rec.headers
        ids = {"record_id": headers.get("WARC-Record-ID"), "url": headers.get("WARC-Target-URI"),
               "date": headers.get("WARC-Date")}
        try:
            rec.parse_http(quirks_mode=True)
        except OSError as e:  # a header over FastWARC's length limit; the next record is still found
            yield _Response(**ids, status=None, content_type=None, error=str(e))
            continue
        body = rec.reader.read()
        if len(body) < rec.content_length:  # content_length: the body length the headers announce
            raise EOFError(f"its body has {len(body)} of {rec.content_length} bytes")
        http = rec.http_headers  # None when the record isn't HTTP (dns:, ftp:); empty when it is garbage
        if http is None:
            yield _Response(**ids, status=None, content_type=headers.get("WARC-Identified-Payload-Type"))
            continue
        status = http.status_code
        yield _Response(
            **ids, status=status if isinstance(status, int) else None,
            content_type=http.get("Content-Type") or headers.get("WARC-Identified-Payload-Type"),
            codings=_codings(http.get), body=body,
        )


def _arc_responses(fh: IO[bytes], cursor: _Cursor) -> Iterator[_Response | None]:
    """Every record of an ARC stream (warcio converts them to WARC records; their ids are random)."""
    try:
        from warcio.archiveiterator import ArchiveIterator
        from warcio.exceptions import ArchiveLoadFailed
    except ImportError:
        raise MissingDependencyError("Reading ARC files needs 'warcio': pip install warcio") from None

    records = ArchiveIterator(fh, arc2warc=True, ensure_http_headers=False)
    try:
        for rec in records:
            cursor.start(None)  # warcio's get_record_offset() would lose the body not read yet
            if rec.rec_type != "response":
                yield None
                continue
            head = rec.rec_headers
            ids = {"record_id": None, "url": head.get_header("WARC-Target-URI"), "date": head.get_header("WARC-Date")}
            http = rec.http_headers
            if http is None:  # dns: and other non-HTTP captures
                yield _Response(**ids, status=None, content_type=None)
                continue
            body = rec.raw_stream.read()
            cursor.offset = records.get_record_offset()
            expected = rec.length - http.total_len
            if len(body) < expected:
                raise EOFError(f"its body has {len(body)} of {expected} bytes")
            status = http.get_statuscode()
            yield _Response(
                **ids, status=int(status) if status.isdigit() else None, content_type=http.get_header("Content-Type"),
                codings=_codings(http.get_header), body=body,
            )
    except ArchiveLoadFailed as e:
        raise OSError(str(e)) from e


def _codings(get: Any) -> tuple[str, ...]:
    """The HTTP codings of a body in the order to undo them: transfer codings (applied last) first.

    ``Content-Encoding: gzip, br`` means gzip, then br was applied, so each list is reversed.
    """
    names = []
    for header in ("Transfer-Encoding", "Content-Encoding"):
        value = get(header)
        if value:
            names += [c.strip().lower() for c in reversed(value.split(","))]
    return tuple(c for c in names if c not in ("", "identity"))


def _undo_codings(body: bytes, codings: tuple[str, ...]) -> bytes:
    """Remove HTTP codings; raises ValueError/OSError/zlib.error on a body that won't decode.

    Archivers often store the decoded body and keep the header that announced the coding, so a
    body that won't decode but is already markup is taken as it is.
    """
    for coding in codings:
        try:
            body = _undo_coding(body, coding)
        except (ValueError, OSError, zlib.error):
            if body.lstrip()[:1] != b"<":
                raise
    return body


def _undo_coding(body: bytes, coding: str) -> bytes:
    if coding == "chunked":
        return _dechunk(body)
    if coding in ("gzip", "x-gzip", "deflate"):
        # wbits 47: a gzip or zlib header, detected; raw deflate (a common misreading of "deflate") as -15
        d = zlib.decompressobj(47 if body[:1] in (b"\x1f", b"\x78") else -15)
        out = d.decompress(body)
        if not d.eof:
            raise ValueError("the compressed body ends early")
        return out
    if coding == "br":
        from fastwarc.stream_io import BrotliReader  # FastWARC bundles brotli

        return BrotliReader(io.BytesIO(body)).read()  # type: ignore[no-any-return]
    if coding == "zstd":
        import zstandard

        z = zstandard.ZstdDecompressor().decompressobj()
        out = z.decompress(body)
        if not z.eof:
            raise ValueError("the compressed body ends early")
        return out
    raise ValueError(f"unsupported coding {coding!r}")


def _dechunk(body: bytes) -> bytes:
    """Undo HTTP/1.1 chunked framing: ``<hex size>[;ext]CRLF <data> CRLF ... 0 CRLF CRLF``."""
    parts, pos = [], 0
    while True:
        eol = body.index(b"\n", pos)  # ValueError when the framing is missing
        size = int(body[pos:eol].split(b";", 1)[0].strip(), 16)
        if size == 0:
            return b"".join(parts)
        start = eol + 1
        if start + size > len(body):
            raise ValueError("a chunk runs past the end of the body")
        parts.append(body[start:start + size])
        pos = start + size
        pos += 2 if body[pos:pos + 2] == b"\r\n" else 1
