"""``pii``: replace email addresses, phone numbers and IP addresses by placeholders.

What is found, and what is left alone on purpose:

* **email** — ``local@domain.tld`` with a letter TLD; Unicode letters allowed. Runs in polars' Rust
  regex (linear time) on the documents that contain an ``@``.
* **ip** — IPv4 (dotted quad, each part 0–255, no leading zeros) and IPv6 (anything ``ipaddress``
  accepts, IPv4-mapped included, but not a bare ``::``). With ``ip_scope: public`` (default) only
  addresses that could point at a person's machine are redacted: loopback (127.0.0.1, ::1), private
  (10/8, 172.16/12, 192.168/16, fc00::/7), link-local, shared (100.64/10), the documentation ranges
  (192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32), multicast and reserved ranges are kept,
  as datatrove's ``PIIFormatter`` (``only_remove_public_ips``) does: they identify no one, and
  technical text is full of them. An IPv4-mapped IPv6 address is judged by its IPv4 part.
  ``ip_scope: all`` redacts every valid address.
* **phone** — international numbers ``+CC ...`` (8–15 digits, E.164's limit; separators `` .-/``,
  an optional ``(0)`` and bracketed groups), North American numbers (``(555) 234-5678``,
  ``1-800-555-0199``, ``555.234.5678`` with one separator throughout; area and exchange codes start
  with 2–9), French ``01 23 45 67 89`` / ``06.12.34.56.78``, and trunk-0 national numbers with a
  separator after the area code (``030 1234567``, ``(020) 7946 0958``, ``069 / 920 77 00``,
  ``0171-1234567``; 9–12 digits: UK, Germany, Italy, the Netherlands...). A national number written
  without any separator (``0612345678``) looks exactly like an id and is kept; so are other
  national formats (Spain's ``912 345 678``) unless written in international form.

Numbers that are not phones: a match must not touch a letter, a digit or a ``+``, nor continue with
``.``/``,``/``:``/``/``/``-``/space and a digit on either side. That keeps dates (2024-01-15,
15.01.2024, 01/15/2024), version numbers (1.2.3, 10.0.19041.1288), IPv4 addresses, long ids
(1234567890123456), rows of numbers (``GB 1 000 000 000``, calendar rows ``01 02 03 04 05 06``)
and clause numbers with mixed separators (``252.227-7013``) intact; the US ZIP+4 ``02110-1301`` of
every FSF licence notice and numbers after "ISBN"/"ISSN"/"DOI" are never phones. The price: a phone
followed by another number (``+33 1 23 45 67 89 2024``) is kept. A four-part version number whose
parts are all at most 255 (``dpkg 1.4.1.17``) reads as an IPv4 address and is redacted when public,
unless "version", "v", "release", "rev" or "build" comes just before it. An integer like
``+2147483647`` is a valid-looking international number and is redacted.

On the 20,560 documents of shared/data/text (web pages, man pages, copyright files, books) this finds
12,637 emails, 130 phones (a sample checked by eye: contact numbers in web pages and licence files, the
``intro(1)`` example phone book) and 60 public IPs (man-page examples, a few four-part version
numbers), at 16,000-18,000 docs/s on one core.

Order: emails, then IPs, then phones, each on the output of the one before, so a placeholder never
gets cut in half. Phones and IPs need lookarounds and ``ipaddress`` checks that polars' regex engine
lacks: polars picks the documents that contain a candidate, and Python's ``re`` (possessive
quantifiers, so no catastrophic backtracking) runs on those only, again until nothing changes (a
number glued to a redacted one is free to match once its neighbour is a placeholder). So, with the
default placeholders (no digit, no ``@``), redacting twice gives the text of redacting once.

Counts: ``email``, ``phone``, ``ip`` (items replaced) and ``docs_changed``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Literal

import polars as pl
import pyarrow as pa
from pydantic import Field

from gencommons.data.step import StepParams, mapper_step

Kind = Literal["email", "phone", "ip"]
KINDS: tuple[Kind, ...] = ("email", "phone", "ip")


class PiiParams(StepParams):
    redact: list[Kind] = Field(list(KINDS), description="Kinds to replace: email, phone, ip.")
    email_placeholder: str = Field("<EMAIL>", description="Text that replaces each email address.")
    phone_placeholder: str = Field("<PHONE>", description="Text that replaces each phone number.")
    ip_placeholder: str = Field("<IP>", description="Text that replaces each IP address.")
    ip_scope: Literal["public", "all"] = Field(
        "public", description="public: redact public IPs only (not 127.0.0.1, 10.x, ...); all: every IP."
    )


# Rust regex (polars): \w and [^\W\d_] (letters) are Unicode-aware, as in Python.
EMAIL = r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,63}\b"

# Cheap polars pre-filters: a document without a match here cannot contain the kind.
_IP_HINT = r"[0-9]\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]|[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:"
_PHONE_HINT = r"[0-9][0-9 ().+/-]{6,}[0-9]"

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4 = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\w)(?!\.[0-9])")
# A loose IPv6 shape; ipaddress decides. Possessive quantifiers: a long run of hex and colons is
# read once, never re-split.
IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}+:){2,7}+"
    r"(?:[0-9]{1,3}+(?:\.[0-9]{1,3}+){3}|[0-9A-Fa-f]{0,4}+)(?![\w:])(?!\.[0-9])"
)

# No letter, digit or "+" before; no ".", ",", ":", "/", "-" or space joined to a digit on either side
# (a space: "GB 1 000 000 000" and calendar rows "01 02 03 04 05 06" are numbers, not phones).
_BEFORE = r"(?<![\w+])(?<![0-9][.,:/ -])"
_AFTER = r"(?!\w)(?![.,:/ -][0-9])"
PHONE = re.compile(
    _BEFORE
    + r"""(?:
        (?P<intl>\+[0-9]{1,3}+(?:[ .-]?\(0\))?(?:(?:[ .-]|\ ?/\ ?)?\(?[0-9]{1,5}+\)?){1,6}+)  # +49 (0)40 / 49 07 11
      | (?P<nanp>(?:1[ .-])?(?:\([2-9][0-9]{2}\)[ .-]?[2-9][0-9]{2}[ .-]   # (555) 234-5678
                            |[2-9][0-9]{2}(?P<sep>[ .-])[2-9][0-9]{2}(?P=sep))  # 555.234.5678, one separator
                 [0-9]{4})
      | (?P<fr>0[1-9](?:[ .][0-9]{2}){4})                                        # 01 23 45 67 89
      | (?P<trunk>(?:\(0[0-9]{1,4}\)|0[0-9]{1,4})(?:[ /-]|\ /\ )[0-9]{2,8}+(?:[ -][0-9]{2,5}+){0,3}+)
    )"""
    + _AFTER,
    re.VERBOSE,
)
_NOT_PHONE_BEFORE = re.compile(r"(?:ISBN|ISSN|DOI)(?:-1[03])?:?\s*$", re.IGNORECASE)
_ZIP4 = re.compile(r"0[0-9]{4}-[0-9]{4}")  # Boston, MA 02110-1301: in every FSF licence notice
# "v1.2.3.4" is kept by the lookbehind; these words before a dotted quad make it a version too
_VERSION_BEFORE = re.compile(r"\b(?:version|ver|v|release|rev|revision|build)\.?:?\s*$", re.IGNORECASE)


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved)


def _ip_replacer(placeholder: str, counter: list[int], *, public_only: bool) -> Callable[[re.Match], str]:
    def replace(m: re.Match) -> str:
        if m.group().strip(":.") == "":  # "x :: Int" is Haskell, not the unspecified address
            return m.group()
        try:
            ip = ipaddress.ip_address(m.group())
        except ValueError:  # 12:30:45, a MAC address, a:b::c:d::e
            return m.group()
        if (public_only and not _is_public(ip)) or m.group() == placeholder:
            return m.group()
        if ip.version == 4 and _VERSION_BEFORE.search(m.string, max(0, m.start() - 12), m.start()):
            return m.group()
        counter[0] += 1
        return placeholder

    return replace


def _phone_replacer(placeholder: str, counter: list[int]) -> Callable[[re.Match], str]:
    def replace(m: re.Match) -> str:
        digits = sum(ch.isdigit() for ch in m.group())
        low, high = (8, 15) if m.group("intl") else (9, 12) if m.group("trunk") else (10, 11)
        if (
            not low <= digits <= high
            or _ZIP4.fullmatch(m.group())
            or m.group() == placeholder
            or _NOT_PHONE_BEFORE.search(m.string, max(0, m.start() - 12), m.start())
        ):
            return m.group()
        counter[0] += 1
        return placeholder

    return replace


def _sub_where(
    text: pl.Series,
    hint: str,
    subs: list[tuple[re.Pattern[str], Callable[[re.Match], str]]],
    replaced: Callable[[], int],
) -> pl.Series:
    """Apply the Python substitutions, in order, to the documents that match the polars ``hint``.

    A document is redone until nothing more is replaced: a number glued to the one before it
    ("+33123456789+33987654321") is only free to match once its neighbour became a placeholder, and
    redacting twice must give what redacting once gave.
    """
    rows = text.str.contains(hint).fill_null(False).arg_true()
    if rows.len() == 0:
        return text
    changed = []
    for doc in text.gather(rows).to_list():
        for _ in range(8):  # each round that replaces something removes digits; 2 rounds in practice
            before = replaced()
            for pattern, replace in subs:
                doc = pattern.sub(replace, doc)
            if replaced() == before:
                break
        changed.append(doc)
    return text.clone().scatter(rows, pl.Series(changed, dtype=pl.String))  # scatter works in place


@mapper_step("pii", params=PiiParams)
def pii(batch: pa.Table, p: PiiParams) -> tuple[pa.Table, dict[str, int]]:
    """Replace email addresses, phone numbers and public IP addresses by placeholders.

    Example:
        >>> t = pa.table({"id": ["a"], "text": ["Mail jane.doe@example.org or call +33 1 23 45 67 89."]})
        >>> out, counts = pii.apply(t, PiiParams())
        >>> out["text"][0].as_py(), counts
        ('Mail <EMAIL> or call <PHONE>.', {'email': 1, 'phone': 1, 'ip': 0, 'docs_changed': 1})
    """
    original = pl.Series("text", batch["text"], dtype=pl.String)
    text = original
    counts: dict[str, int] = dict.fromkeys(KINDS, 0)
    if "email" in p.redact:
        rows = text.str.contains("@", literal=True).fill_null(False).arg_true()  # 6x faster than regex on all
        with_at = text.gather(rows)
        counts["email"] = int(with_at.str.count_matches(EMAIL).sum() or 0)
        if counts["email"]:
            # "$" would start a capture-group reference in a polars replacement
            replaced = with_at.str.replace_all(EMAIL, p.email_placeholder.replace("$", "$$"))
            text = text.clone().scatter(rows, replaced)
    # IPs before phones: an IPv4 address must not be read as digits and dots of a phone number
    subs: list[tuple[re.Pattern[str], Callable[[re.Match], str]]] = []
    hints = []
    n_ip, n_phone = [0], [0]
    if "ip" in p.redact:
        replace_ip = _ip_replacer(p.ip_placeholder, n_ip, public_only=p.ip_scope == "public")
        # IPv6 first: "::ffff:8.8.8.8" is one address, not a prefix and an IPv4 address
        subs += [(IPV6, replace_ip), (IPV4, replace_ip)]
        hints.append(_IP_HINT)
    if "phone" in p.redact:
        subs.append((PHONE, _phone_replacer(p.phone_placeholder, n_phone)))
        hints.append(_PHONE_HINT)
    if subs:
        text = _sub_where(text, "|".join(hints), subs, lambda: n_ip[0] + n_phone[0])
    counts["ip"], counts["phone"] = n_ip[0], n_phone[0]
    counts["docs_changed"] = int((text != original).fill_null(False).sum())
    column = batch.schema.get_field_index("text")
    return batch.set_column(column, "text", text.to_arrow().cast(batch.schema.field("text").type)), counts
