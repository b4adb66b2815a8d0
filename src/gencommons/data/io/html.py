"""HTML to main text: the extractor registry, and decoding HTML bytes to str.

An extractor is a function ``(html: str) -> str`` registered by name in ``extractors`` (third-party
packages add theirs through the ``gencommons.html_extractors`` entry-point group); ``html_to_text``
looks one up by the name ``ReadOptions.extractor`` holds. It returns ``""`` when the page has no main
text, and never raises on malformed HTML. Reading WARC files lives in ``warc.py``.

Measured with ``bench/html_extraction.py`` on the 200 real pages of ``shared/data/html`` (592 gold
``with`` snippets a correct extraction contains, 592 ``without`` snippets of boilerplate it must not;
whitespace collapsed before matching; one CPU core)::

    extractor     with found   without avoided   pages/s   empty pages
    resiliparse        0.927             0.740       ~780             6
    trafilatura        0.963             0.877        ~57             0

trafilatura leaves out much more boilerplate but is about 13x slower; note that these pages are
trafilatura's own evaluation set, which its heuristics were tuned on, so its lead is an upper bound.
The default stays ``resiliparse``: at web scale the extraction is the most expensive step of a WARC
pipeline, and the quality filters that follow (C4/FineWeb line rules, repetition) remove much of what
it keeps. Choose ``trafilatura`` when the corpus is small or precision matters more than CPU.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable

from gencommons.errors import MissingDependencyError
from gencommons.registry import Registry

Extractor = Callable[[str], str]
extractors: Registry[Extractor] = Registry("HTML extractor", package=None, group="gencommons.html_extractors")


@extractors.register("resiliparse")
def resiliparse(html: str) -> str:
    """Resiliparse's main-content heuristics; alt texts, comment sections and bylines left out.

    Each option was measured: ``alt_texts``, ``comments`` and ``post_meta`` off avoid 8.5 points more
    boilerplate for 1.9 points less main text than the library defaults.
    """
    from resiliparse.extract.html2text import extract_plain_text

    return extract_plain_text(
        _encodable(html),
        main_content=True,
        preserve_formatting=True,
        alt_texts=False,
        comments=False,
        post_meta=False,
    )


@extractors.register("trafilatura")
def trafilatura(html: str) -> str:
    """trafilatura's extraction with its defaults (and its fallbacks), comment sections left out."""
    try:
        from trafilatura import extract
    except ImportError:
        raise MissingDependencyError(
            "The 'trafilatura' HTML extractor needs it: pip install trafilatura"
        ) from None

    return extract(_encodable(html), include_comments=False) or ""


def html_to_text(html: str, *, extractor: str = "resiliparse") -> str:
    """The main text of an HTML page, paragraphs on their own lines; ``""`` when it has none.

    Example:
        >>> html_to_text("<html><body><article><p>Hello, main text.</p></article></body></html>")
        'Hello, main text.'
    """
    return extractors[extractor](html).strip()


# <meta charset="x"> or <meta http-equiv="Content-Type" content="text/html; charset=x">, in the head
_META_CHARSET = re.compile(rb"""<meta\s[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_META_SCAN_BYTES = 4096
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)  # UTF-32 LE before its prefix


def decode_html(body: bytes, *, declared: str | None = None) -> str:
    """Decode an HTML page; never raises, whatever the bytes or the charset they claim.

    The first of these that decodes the whole body without error wins: a byte-order mark; the
    ``declared`` charset (the HTTP ``Content-Type``) when it is UTF-16/32; UTF-8; the ``declared``
    charset; the page's ``<meta charset>``. When none does, the detector's (uchardet) guess decodes it
    with U+FFFD for the bad bytes. UTF-8 comes before the declarations because text in another encoding
    with non-ASCII bytes is almost never valid UTF-8, while servers that label UTF-8 pages ISO-8859-1
    are common; charset names are mapped as browsers do (WHATWG: ISO-8859-1 means windows-1252).

    Args:
        body: the HTTP body, transfer and content encodings already removed.
        declared: the charset of the HTTP ``Content-Type`` header, if any.

    Example:
        >>> decode_html("<p>café</p>".encode("cp1252"), declared="utf-8")
        '<p>café</p>'
    """
    from resiliparse.parse.encoding import detect_encoding

    for bom, name in _BOMS:
        if body.startswith(bom):
            return body.decode(name, errors="replace").lstrip("\ufeff")
    http = _whatwg(declared)
    meta = None
    if match := _META_CHARSET.search(body, 0, _META_SCAN_BYTES):
        meta = _whatwg(match.group(1).decode("ascii"))
    first = [http] if http and http.startswith(("utf-16", "utf-32")) else []
    for charset in dict.fromkeys([*first, "utf-8", http, meta]):  # ordered, without repeats
        if charset is None:
            continue
        try:
            return body.decode(charset)
        except UnicodeDecodeError:
            pass
    return body.decode(detect_encoding(body, from_html_meta=False) or "utf-8", errors="replace")


def _whatwg(name: str | None) -> str | None:
    """A charset label as browsers read it, as a Python codec name; None when unknown."""
    from resiliparse.parse.encoding import map_encoding_to_html5

    if not name:
        return None
    mapped = map_encoding_to_html5(name.strip(), fallback_utf8=False)
    try:
        return codecs.lookup(mapped).name if mapped else None
    except LookupError:
        return None


_SURROGATES = re.compile("[\ud800-\udfff]")


def _encodable(text: str) -> str:
    """Replace lone surrogates (not Unicode scalar values: the parsers can't encode them) with U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", text)
    return text
