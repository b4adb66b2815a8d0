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
(``not_html``, their bodies never copied out), non-2xx statuses (``http_status``: a 404 page isn't the
document at its URL), pages over 32 MiB stored or decoded (``too_large``) and pages whose extraction
is empty (``no_text``: navigation-only pages, redirects with a body, framesets).
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
import lzma
import re
import zlib
from collections import Counter
from collections.abc import Generator, Iterator
from dataclasses import dataclass, replace
from typing import IO, Any

import pyarrow as pa

from gencommons.data.io.html import Extractor, decode_html, extractors
from gencommons.data.io.reading import (
    GZIP_ERRORS,
    BadRecords,
    BatchBuilder,
    ReadOptions,
    open_input,
    readers,
    zstd_errors,
)
from gencommons.errors import InputDataError, MissingDependencyError

log = logging.getLogger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# a page over this (stored or decoded) is skipped: no main text is that long, and parsing it costs seconds
MAX_PAGE_BYTES = 32 * 2**20
_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';\s]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class _Response:
    """One HTTP response record, as either backend reads it."""

    record_id: str | None
    url: str | None
    date: str | None
    status: int | None = None
    content_type: str | None = None  # the HTTP Content-Type header value, parameters included
    size: int = 0  # body bytes as stored
    codings: tuple[str, ...] = ()  # HTTP transfer and content codings, in the order to undo them
    body: bytes = b""  # as stored; read only when the record can become a document
    error: str | None = None  # why the HTTP header couldn't be read

    @property
    def media_type(self) -> str:
        return (self.content_type or "").split(";", 1)[0].strip().lower()

    def skip_reason(self) -> str | None:
        """Why this response won't be a document, or None."""
        if self.media_type not in HTML_TYPES:
            return "not_html"
        if self.status is None or not 200 <= self.status < 300:
            return "http_status"
        if self.size > MAX_PAGE_BYTES:
            return "too_large"
        return None


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
            at = (
                f", which starts at byte {self.offset} of the uncompressed stream"
                if self.offset is not None
                else ""
            )
            return self.number, f"in record {self.number}{at}"
        return self.number + 1, f"after record {self.number}"


class _QuietEnd:
    """A decompressed stream that ends quietly where its input is cut or corrupt, keeping the error.

    FastWARC reads ahead in large blocks: an error raised inside one would lose the complete records
    before the cut that the block holds, and the record number with them. Ending quietly lets it read
    every complete record first; the reader reports ``error`` afterwards.
    """

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.error: BaseException | None = None
        self.position = 0
        self.errors: tuple[type[BaseException], ...] = (
            *GZIP_ERRORS,
            lzma.LZMAError,
            *zstd_errors(),
        )

    def read(self, size: int = -1) -> bytes:
        # read1 hands over one decompressed block at a time: what came before an error isn't lost with
        # it, as it is inside a buffered read(size)
        read1 = getattr(self.fh, "read1", self.fh.read)
        parts: list[bytes] = []
        want = size if size >= 0 else 1 << 62
        while want > 0 and self.error is None:
            try:
                data = read1(min(want, 1 << 20))
            except self.errors as e:
                self.error = e  # a truncated gzip/bz2/xz stream raises EOFError; a corrupt one the others
                break
            if not data:
                break
            parts.append(data)
            want -= len(data)
        out = b"".join(parts)
        self.position += len(out)
        return out

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        raise io.UnsupportedOperation("a decompressed stream is read forward only")

    def close(self) -> None:
        self.fh.close()


@readers.register("warc")
def read_warc(path: str, opts: ReadOptions, bad: BadRecords) -> Generator[pa.Table, None, Counter[str]]:
    """Yield batches of main text from the HTML responses of a WARC (or ARC) file."""
    extract = extractors[opts.extractor]  # an unknown name fails before any file is opened
    warc_file = path[len(opts.root) :].lstrip("/") if opts.root and path.startswith(opts.root) else path
    counts: Counter[str] = Counter()
    builder = BatchBuilder(opts)
    cursor = _Cursor()
    is_arc = re.search(r"\.arc(\.\w+)?$", path.lower()) is not None
    with open_input(path) as raw:
        fh = _QuietEnd(raw)
        records = _arc_responses(fh, cursor) if is_arc else _warc_responses(fh, cursor)
        failure = None  # (reason, message) of what stopped the reading
        try:
            for resp in records:
                doc = _to_document(
                    resp,
                    path=path,
                    warc_file=warc_file,
                    number=cursor.number,
                    counts=counts,
                    bad=bad,
                    extract=extract,
                )
                cursor.inside = False
                if doc is not None:
                    counts["kept"] += 1
                    out = builder.add(*doc)
                    if out is not None:
                        yield out
        except EOFError as e:  # a record body shorter than its header says
            failure = ("truncated_file", f"the file is truncated {{where}} ({e})")
        except OSError as e:  # FastWARC can't parse what follows
            failure = ("corrupt_file", f"not a readable WARC file {{where}} ({type(e).__name__}: {e})")
        if fh.error is not None:  # the decompressor's complaint is the cause of whatever followed
            failure = (
                ("truncated_file", f"the file is truncated {{where}} ({fh.error})")
                if isinstance(fh.error, EOFError)
                else ("corrupt_file", f"the compressed stream is corrupt {{where}} ({fh.error})")
            )
        if failure is not None:
            line, where = cursor.where()
            bad(InputDataError(failure[1].format(where=where), path=path, line=line, reason=failure[0]))
        elif cursor.number == 0:
            size = fh.tell()  # bytes read (uncompressed), all of them: the iterator found no record
            if size:
                bad(
                    InputDataError(
                        f"not a WARC file: no WARC record in its {size} bytes",
                        path=path,
                        reason="corrupt_file",
                    )
                )
            else:
                bad(InputDataError("the file is empty (no WARC records)", path=path, reason="empty_file"))
    counts["records"] = cursor.number
    for k, v in counts.items():
        if k not in ("records", "kept", "not_response"):  # requests, warcinfo: not pages
            bad.skipped[k] = bad.skipped.get(k, 0) + v
    last = builder.flush()
    if last is not None:
        yield last
    log.info(
        "%s: %d records, %d documents; skipped %s",
        path,
        cursor.number,
        counts["kept"],
        ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k not in ("records", "kept")) or "none",
    )
    return counts


def _to_document(
    resp: _Response | None,
    *,
    path: str,
    warc_file: str,
    number: int,
    counts: Counter[str],
    bad: BadRecords,
    extract: Extractor,
) -> tuple[str, str, dict[str, Any]] | None:
    """(id, text, meta) of one record, or None after counting why it was skipped."""
    if resp is None:
        counts["not_response"] += 1
        return None
    if resp.error is not None:
        bad(
            InputDataError(
                f"record {resp.record_id}: unreadable HTTP header ({resp.error})",
                path=path,
                line=number,
                reason="malformed_http",
            )
        )
        return None
    reason = resp.skip_reason()
    if reason is not None:
        counts[reason] += 1
        return None
    try:
        body = _undo_codings(resp.body, resp.codings)
    except _TooLarge:
        counts["too_large"] += 1
        return None
    except ValueError as e:
        bad(
            InputDataError(
                f"record {resp.record_id}: can't undo the HTTP coding {', '.join(resp.codings)} ({e})",
                path=path,
                line=number,
                reason="bad_content_encoding",
            ),
            resp.body[:2000],
        )
        return None
    charset = _CHARSET.search(resp.content_type or "")
    text = extract(decode_html(body, declared=charset.group(1) if charset else None)).strip()
    if not text:
        counts["no_text"] += 1
        return None
    doc_id = resp.record_id or f"{warc_file.rsplit('/', 1)[-1]}:{number}"
    return (
        doc_id,
        text,
        {"url": resp.url, "timestamp": resp.date, "content_type": resp.media_type, "warc_file": warc_file},
    )


def _warc_responses(fh: _QuietEnd, cursor: _Cursor) -> Iterator[_Response | None]:
    """Every record of a WARC stream: a _Response for a response record, None for any other."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    # no auto_decode: FastWARC raises, and stops the whole file, on a body whose coding header lies
    for rec in ArchiveIterator(fh, record_types=WarcRecordType.any_type, parse_http=False, quirks_mode=True):
        cursor.start(rec.stream_pos)
        if rec.record_type != WarcRecordType.response:
            yield None
            continue
        headers = rec.headers
        resp = _Response(
            record_id=headers.get("WARC-Record-ID"),
            url=headers.get("WARC-Target-URI"),
            date=headers.get("WARC-Date"),
        )
        try:
            rec.parse_http(quirks_mode=True)
        except OSError as e:  # a header over FastWARC's length limit; the next record is still found
            yield replace(resp, error=str(e))
            continue
        http = rec.http_headers  # None when the record isn't HTTP (dns:, ftp:); empty when it is garbage
        if http is None:
            resp = replace(resp, content_type=headers.get("WARC-Identified-Payload-Type"))
        else:
            status = http.status_code
            resp = replace(
                resp,
                status=status if isinstance(status, int) else None,
                content_type=http.get("Content-Type") or headers.get("WARC-Identified-Payload-Type"),
                size=rec.content_length,  # the body length the headers announce
                codings=_codings(http.get),
            )
        if resp.skip_reason() is None:
            body = rec.reader.read()
            got = len(body)
            resp = replace(resp, body=body)
        else:
            got = rec.reader.consume()  # skipped without copying it out
        if got < rec.content_length:
            raise EOFError(f"its body has {got} of {rec.content_length} bytes")
        yield resp


def _arc_responses(fh: _QuietEnd, cursor: _Cursor) -> Iterator[_Response | None]:
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
            resp = _Response(
                record_id=None, url=head.get_header("WARC-Target-URI"), date=head.get_header("WARC-Date")
            )
            http = rec.http_headers
            if http is None:  # dns: and other non-HTTP captures
                yield resp
                continue
            status = http.get_statuscode()
            expected = rec.length - http.total_len
            resp = replace(
                resp,
                status=int(status) if status.isdigit() else None,
                content_type=http.get_header("Content-Type"),
                size=expected,
                codings=_codings(http.get_header),
            )
            body = rec.raw_stream.read()  # ARC files are small and old: no need to skip without reading
            cursor.offset = records.get_record_offset()
            if len(body) < expected:
                raise EOFError(f"its body has {len(body)} of {expected} bytes")
            yield replace(resp, body=body) if resp.skip_reason() is None else resp
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
    """Remove HTTP codings; ValueError when a body won't decode or decodes past MAX_PAGE_BYTES.

    Archivers often store the decoded body and keep the header that announced the coding, so a
    body that won't decode but is already markup is taken as it is.
    """
    for coding in codings:
        try:
            body = _undo_coding(body, coding)
        except _TooLarge:
            raise
        except ValueError:
            if body.lstrip()[:1] != b"<":
                raise
    return body


class _TooLarge(ValueError):
    """A body that decodes to more than MAX_PAGE_BYTES (a decompression bomb, or no web page)."""


def _undo_coding(body: bytes, coding: str) -> bytes:
    if coding == "chunked":
        return _dechunk(body)
    try:
        if coding in ("gzip", "x-gzip", "deflate"):
            # wbits 47: a gzip or zlib header, detected; raw deflate (a common misreading of "deflate") as -15
            d = zlib.decompressobj(47 if body[:1] in (b"\x1f", b"\x78") else -15)
            out = d.decompress(body, MAX_PAGE_BYTES + 1)
            if not d.eof and len(out) <= MAX_PAGE_BYTES:
                raise ValueError("the compressed body ends early")
        elif coding == "br":
            from fastwarc.stream_io import BrotliReader  # FastWARC bundles brotli

            out = BrotliReader(io.BytesIO(body)).read(MAX_PAGE_BYTES + 1)
        elif coding == "zstd":
            import zstandard

            out = zstandard.ZstdDecompressor().decompress(body, max_output_size=MAX_PAGE_BYTES + 1)
        else:
            raise ValueError(f"unsupported coding {coding!r}")
    except _decoding_errors() as e:
        raise ValueError(str(e)) from e
    if len(out) > MAX_PAGE_BYTES:
        raise _TooLarge(f"it decodes to more than {MAX_PAGE_BYTES} bytes")
    return out


def _dechunk(body: bytes) -> bytes:
    """Undo HTTP/1.1 chunked framing: ``<hex size>[;ext]CRLF <data> CRLF ... 0 CRLF CRLF``."""
    parts: list[bytes] = []
    pos = 0
    while True:
        eol = body.index(b"\n", pos)  # ValueError when the framing is missing
        size = int(body[pos:eol].split(b";", 1)[0].strip(), 16)
        if size == 0:
            return b"".join(parts)
        start = eol + 1
        if start + size > len(body):
            raise ValueError("a chunk runs past the end of the body")
        parts.append(body[start : start + size])
        pos = start + size
        pos += 2 if body[pos : pos + 2] == b"\r\n" else 1


def _decoding_errors() -> tuple[type[BaseException], ...]:
    return (OSError, zlib.error, *zstd_errors())
