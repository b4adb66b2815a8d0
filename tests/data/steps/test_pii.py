"""The ``pii`` mapper: what it redacts, what it must leave alone, counts, and idempotence."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from gencommons.data.step import steps
from gencommons.data.steps.pii import PiiParams, pii

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def redact(texts: list[str | None], **params: object) -> tuple[list[str | None], dict[str, int]]:
    table = pa.table({"id": [str(i) for i in range(len(texts))], "text": pa.array(texts, pa.string())})
    out, counts = pii.apply(table, PiiParams(**params))  # type: ignore[arg-type]
    assert out.schema == table.schema
    assert out["id"].equals(table["id"])
    return out["text"].to_pylist(), counts


def one(text: str, **params: object) -> str:
    (out,), _ = redact([text], **params)
    assert out is not None
    return out


REDACTED = [
    # emails
    ("Write to jane.doe+news@example.org.", "Write to <EMAIL>."),
    ("mailto:J.Smith@Sub.Example.CO.UK?subject=hi", "mailto:<EMAIL>?subject=hi"),
    ("Übersetzung: jöhn.dœ@exämple.de", "Übersetzung: <EMAIL>"),
    ("<Petr.Kolar@vslib.cz>", "<<EMAIL>>"),
    ("socks5h://apt:pass@proxy.example.net:9050", "socks5h://apt:<EMAIL>:9050"),
    # phones, international
    ("Tel. +33 1 23 45 67 89 ou +33612345678", "Tel. <PHONE> ou <PHONE>"),
    ("Telefon +49 (0)40 / 49 07 11 06, Fax +49 (0)30 12345678", "Telefon <PHONE>, Fax <PHONE>"),
    ("call +1 (555) 234-5678 or +44 20 7946 0958.", "call <PHONE> or <PHONE>."),
    # phones, national
    ("(555) 234-5678, 1-800-555-0199, 555.234.5678", "<PHONE>, <PHONE>, <PHONE>"),
    ("01 23 45 67 89 / 06.12.34.56.78", "<PHONE> / <PHONE>"),
    ("Berlin 030 1234567, London (020) 7946 0958, 0171-1234567", "Berlin <PHONE>, London <PHONE>, <PHONE>"),
    ("Tel: 069 / 920 77 00, Tel.: 02382 59743", "Tel: <PHONE>, Tel.: <PHONE>"),
    # IPs
    ("from 8.8.8.8: ok. Then 2606:4700:4700::1111.", "from <IP>: ok. Then <IP>."),
    ("mapped ::ffff:8.8.8.8 and [2001:4860:4860::8888]:53", "mapped <IP> and [<IP>]:53"),
]

KEPT = [
    "Dates 2024-01-15, 15.01.2024, 01/15/2024 and 2024 01 15 at 12:30:45.",
    "Versions 1.2.3, 10.0.19041.1288, v1.2.3.4, version 2.6.32.1, release 4.4.0.1",
    "ISBN 978-3-16-148410-0, ISBN 0-306-40615-2, ISBN 0306 406152, ISSN 0317-8471",
    "Order 1234567890123456, id 0612345678, +12345678901234567 (too long for E.164)",
    "Boston, MA  02110-1301, USA",  # every FSF licence notice
    "GB 1 000 000 000 bytes, M 1 048 576",
    "Mo Di Mi Do Fr Sa So 01 02 03 04 05 06 07 08 09 10 11 12",
    "DFARS 252.227-7013 (c) (1)",
    "Local 127.0.0.1, 10.0.0.1, 192.168.1.1, 172.16.0.1, 100.64.0.1, 169.254.1.1",
    "Docs 192.0.2.1, 198.51.100.7, 203.0.113.9, 2001:db8::1, fe80::1%eth0, ::1, 224.0.0.1",
    "Not IPs: 999.1.1.1, 1.2.3.4.5, 01.02.03.04, 00:1A:2B:3C:4D:5E, 12:34:56:78",
    "Code: std::vector, Foo::Bar, x :: Int, a ::= b | c",
    "Not emails: @handle, user@localhost, a@b.c, foo@bar",
]


@pytest.mark.parametrize(("text", "expected"), REDACTED)
def test_redacts(text: str, expected: str) -> None:
    assert one(text) == expected


@pytest.mark.parametrize("text", KEPT)
def test_leaves_alone(text: str) -> None:
    assert one(text) == text


def test_counts_per_kind_and_documents_changed() -> None:
    texts = [
        "a@example.org, b@example.org and +33 1 23 45 67 89",
        "nothing here",
        None,
        "8.8.8.8 and 1.1.1.1 and 10.0.0.1",
    ]
    out, counts = redact(texts)
    assert counts == {"email": 2, "phone": 1, "ip": 2, "docs_changed": 2}
    assert out[1:3] == ["nothing here", None]


def test_redact_chooses_kinds_and_placeholders() -> None:
    text = "a@example.org +33 1 23 45 67 89 8.8.8.8"
    assert one(text, redact=["email"]) == "<EMAIL> +33 1 23 45 67 89 8.8.8.8"
    assert one(text, redact=["ip", "phone"]) == "a@example.org <PHONE> <IP>"
    assert one(text, redact=[]) == text
    custom = one(text, email_placeholder="[mail $1]", phone_placeholder="", ip_placeholder="-")
    assert custom == "[mail $1]  -"  # "$1" stays literal
    _, counts = redact([text], redact=[])
    assert counts == {"email": 0, "phone": 0, "ip": 0, "docs_changed": 0}


def test_ip_scope_all_redacts_private_addresses() -> None:
    text = "127.0.0.1 192.168.1.1 ::1 fe80::1 but not 12:30:45 nor x :: y"
    assert one(text, ip_scope="all") == "<IP> <IP> <IP> <IP> but not 12:30:45 nor x :: y"


def test_params_are_validated() -> None:
    assert steps["pii"] is pii
    with pytest.raises(ValidationError):
        PiiParams(redact=["ssn"])  # type: ignore[list-item]
    with pytest.raises(ValidationError):
        PiiParams(ip_scope="private")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        PiiParams(email_replacement="x")  # type: ignore[call-arg]


def test_hostile_inputs_finish_and_stay_put() -> None:
    # long runs that a backtracking regex could spend minutes on; possessive groups read them once
    texts = [
        "+" + "1" * 5000,
        "1:" * 5000,
        ":" * 5000 + "1",
        "0 " * 5000,
        "1." * 5000,
        "a" * 5000 + "@" + "b." * 2000,
        "+1 " * 3000,
    ]
    out, counts = redact(texts)
    assert out == texts
    assert counts["docs_changed"] == 0


def test_real_man_pages(tmp_path: Path) -> None:
    with gzip.open(CORPUS / "debian-man.jsonl.gz", "rt", encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    texts = [d["text"] for d in docs]
    out, counts = redact(texts)
    # translators' addresses: every one goes, and nothing else that looks like an address is left
    assert counts["email"] >= 50
    assert not any(re.search(r"[\w.+-]+@[\w-]+\.[a-z]{2,}\b", t or "") for t in out)
    for before, after in zip(texts, out, strict=True):
        assert after is not None
        for date in re.findall(r"\b(?:19|20)[0-9]{2}-[01][0-9]-[0-3][0-9]\b", before):
            assert date in after  # dates survive


def test_shared_copyright_files(shared_data: Path) -> None:
    """Debian copyright files: thousands of emails; the FSF's postal code is not a phone number."""
    with gzip.open(shared_data / "text" / "debian-copyright.jsonl.gz", "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f]
    out, counts = redact(texts)
    assert counts["email"] > 3000
    assert sum("02110-1301" in t for t in texts) == sum("02110-1301" in (t or "") for t in out) > 100
    assert counts["phone"] < 60  # a few real ones (the LAPACK and GCC contact numbers), not thousands


# text built from the characters PII is made of, so that examples often come close to a match
PIIISH = st.text(alphabet="0123456789 .-+()/:@abcefx", max_size=80) | st.lists(
    st.sampled_from(
        [
            "+33 1 23 45 67 89", "8.8.8.8", "::1", "2001:4860::8888", "a@b.io", "(555) 234-5678",
            "030 1234567", "2024-01-15", " ", ".", "-", ":", "1", "0", "@", "/", "x",
        ]
    ),
    max_size=12,
).map("".join)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(PIIISH, min_size=1, max_size=5))
def test_redacting_twice_is_redacting_once(texts: list[str]) -> None:
    once, _ = redact(list(texts))
    twice, counts = redact(once)
    assert twice == once
    assert counts["docs_changed"] == 0


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=("Nd", "Cs"), exclude_characters="@")))
def test_text_without_digit_or_at_is_unchanged(text: str) -> None:
    assert one(text) == text
