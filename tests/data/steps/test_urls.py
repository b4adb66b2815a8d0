"""The ``url_blocklist`` filter on a real UT1 excerpt (tests/data/ut1) and hand-made lists."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gencommons.data.step import steps
from gencommons.data.steps.urls import UrlBlocklistParams, load_blocklist, normalize_host, url_blocklist
from gencommons.errors import ConfigError

UT1 = Path(__file__).resolve().parents[1] / "ut1"


def reasons(urls: list[str | None], **params: object) -> list[str | None]:
    p = UrlBlocklistParams(**params)  # type: ignore[arg-type]
    batch = pa.table(
        {
            "id": [str(i) for i in range(len(urls))],
            "text": ["x"] * len(urls),
            "url": pa.array(urls, pa.string()),
        }
    )
    scores = url_blocklist.measure(batch, p)
    assert scores.columns == ["url_blocklist_category"]
    # the engine's call: reasons come from the score columns alone
    return scores.select(url_blocklist.reason_expr(p)).to_series().to_list()


UT1_CASES = [
    ("https://14words.com/", "url_blocklist:agressif"),
    ("http://WWW.14Words.COM:8080/page?x=1#top", "url_blocklist:agressif"),
    ("https://a.b.14words.com", "url_blocklist:agressif"),  # subdomains of a listed domain
    ("https://user:pw@14words.com./", "url_blocklist:agressif"),
    ("https://not14words.com/", None),  # a suffix is not a parent domain
    ("https://14words.com.example.org/", None),
    ("https://alainb-voyance.com/contact", "url_blocklist:sect"),
    ("http://198.95.10.224/", "url_blocklist:sect"),  # an IP address entry
    ("http://198.95.10.2/", None),
    ("http://129.105.212.34/~abutz/index.html", "url_blocklist:agressif"),  # URL entry and below
    ("http://129.105.212.34/~abutzz", None),  # ... at "/" boundaries only
    ("http://129.105.212.34/", None),
    ("https://twitter.com/anp14", "url_blocklist:agressif"),
    ("https://www.twitter.com/ANP14/status/1?s=20", "url_blocklist:agressif"),
    ("https://twitter.com/someone", None),
    ("https://mobile.twitter.com/anp14", None),  # a URL entry names one host
    ("https://cri.univ-tlse1.fr/tools/test_filtrage/sect/", "url_blocklist:sect"),
    ("https://cri.univ-tlse1.fr/tools/test_filtrage/child/index.html", None),  # white list
    ("https://2jr.org/", None),  # white, and on no block list
    (None, None),  # no URL, no evidence: kept
    ("", None),
    ("not a url at all", None),
    ("mailto:someone@14words.com", "url_blocklist:agressif"),  # read as user@host
]


@pytest.mark.parametrize(("url", "expected"), UT1_CASES)
def test_ut1_excerpt(url: str | None, expected: str | None) -> None:
    assert reasons([url], lists=[str(UT1)]) == [expected]


def test_whole_batch_and_registry() -> None:
    assert steps["url_blocklist"] is url_blocklist
    urls = [u for u, _ in UT1_CASES]
    assert reasons(urls, lists=[str(UT1)]) == [r for _, r in UT1_CASES]
    blocklist = load_blocklist([str(UT1)])
    assert blocklist.categories == ("agressif", "child", "sect")
    assert len(blocklist.domains) == 360 + 144  # no domain is in both
    assert len(blocklist.allow_domains) == 75


def test_categories_pick_some() -> None:
    urls = ["https://14words.com/", "https://alainb-voyance.com/"]
    assert reasons(urls, lists=[str(UT1)], categories=["sect"]) == [None, "url_blocklist:sect"]
    assert reasons(urls, lists=[str(UT1 / "agressif")]) == [
        "url_blocklist:agressif",
        None,
    ]  # one category folder


def test_white_list_overrides_block_lists(tmp_path: Path) -> None:
    plain = tmp_path / "block.txt"
    plain.write_text("2jr.org\ncri.univ-tlse1.fr\n", encoding="utf-8")
    urls = [
        "https://2jr.org/x",
        "https://cri.univ-tlse1.fr/tools/test_filtrage/child/",
        "https://cri.univ-tlse1.fr/",
    ]
    assert reasons(urls, lists=[str(plain), str(UT1)]) == [None, None, "url_blocklist:domain"]
    # without the white category, the plain list blocks all three
    assert reasons(urls, lists=[str(plain), str(UT1)], categories=["sect"]) == ["url_blocklist:domain"] * 3


def test_plain_list_format(tmp_path: Path) -> None:
    plain = tmp_path / "list.txt"
    plain.write_text(
        "# a comment\n\n"
        "Example.COM   # inline comment\n"
        "0.0.0.0 tracker.test\n"  # hosts-file line
        "www.shop.test\n"  # "www." is dropped: blocks shop.test too
        "https://files.test/private/\n"  # a URL entry, scheme ignored
        "bücher.test\n",  # IDN, compared as punycode
        encoding="utf-8",
    )
    urls = [
        "https://www.example.com/a",
        "http://ads.tracker.test/pixel.gif",
        "https://shop.test/cart",
        "https://files.test/private/report.pdf",
        "https://files.test/public/",
        "https://xn--bcher-kva.test/",
        "https://BÜCHER.test/",
        "https://0.0.0.0/",
    ]
    assert reasons(urls, lists=[str(plain)]) == ["url_blocklist:domain"] * 4 + [None] + [
        "url_blocklist:domain"
    ] * 2 + [None]


def test_gzip_lists(tmp_path: Path) -> None:
    cat = tmp_path / "root" / "gambling"
    cat.mkdir(parents=True)
    with gzip.open(cat / "domains.gz", "wt", encoding="utf-8") as f:
        f.write("casino.test\n")
    (cat / "usage").write_text("black\n", encoding="utf-8")
    assert reasons(["https://www.casino.test/"], lists=[str(tmp_path / "root")]) == ["url_blocklist:gambling"]


def test_edited_list_is_reloaded(tmp_path: Path) -> None:
    plain = tmp_path / "list.txt"
    plain.write_text("a.test\n", encoding="utf-8")
    urls = ["https://a.test/", "https://b.test/"]
    assert reasons(urls, lists=[str(plain)]) == ["url_blocklist:domain", None]
    plain.write_text("b.test\n", encoding="utf-8")
    os.utime(plain, ns=(1, 1))  # a different mtime even on a coarse clock
    assert reasons(urls, lists=[str(plain)]) == [None, "url_blocklist:domain"]


def test_url_field(tmp_path: Path) -> None:
    p = UrlBlocklistParams(lists=[str(UT1)], url_field="source_url")
    batch = pa.table({"id": ["1"], "text": ["x"], "source_url": ["https://14words.com/"], "url": [None]})
    assert url_blocklist.measure(batch, p)["url_blocklist_category"].to_list() == ["agressif"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"lists": []}, "lists is empty"),
        ({"lists": ["/no/such/list.txt"]}, "lists: no such file or folder: '/no/such/list.txt'"),
        ({"lists": [str(Path(__file__).parent)]}, "lists: .* holds no category folder"),
        (
            {"lists": [str(UT1)], "categories": ["adult"]},
            "categories: 'adult' not found .* agressif, child, sect",
        ),
        ({"lists": [str(UT1)], "url_field": "link"}, "url_field: no column 'link'"),
    ],
)
def test_bad_params_are_config_errors(params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        reasons(["https://example.org/"], **params)


def test_normalize_host() -> None:
    assert normalize_host("WWW2.Example.org.") == "example.org"
    assert normalize_host("[2001:DB8::1]") == "2001:db8::1"
    assert normalize_host("wwwhat.org") == "wwwhat.org"


LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(LABEL, max_size=3),
    st.sampled_from(sorted(load_blocklist([str(UT1)]).domains))
    | st.lists(LABEL, min_size=2, max_size=3).map(".".join),
)
def test_host_blocked_iff_it_or_a_parent_is_listed(labels: list[str], base: str) -> None:
    blocked = load_blocklist([str(UT1)]).domains
    allowed = load_blocklist([str(UT1)]).allow_domains
    host = ".".join([*labels, base])
    parts = host.split(".")
    parents = {".".join(parts[i:]) for i in range(len(parts))}
    is_ip = all(x.isdigit() for x in parts) and len(parts) == 4
    expected = None
    if not (parents & allowed):
        hits = [host] if is_ip else [d for d in parents if d in blocked]
        expected = f"url_blocklist:{blocked[hits[0]]}" if hits and hits[0] in blocked else None
    assert reasons([f"https://{host}/"], lists=[str(UT1)]) == [expected]


def test_shared_web_urls_against_a_reference(shared_data: Path) -> None:
    """Every URL of the web corpus and the whole shared UT1 copy, checked with urllib and suffixes."""
    with gzip.open(shared_data / "text" / "web.jsonl.gz", "rt", encoding="utf-8") as f:
        urls = [json.loads(line)["url"] for line in f]
    lists = [str(shared_data / "safety" / "ut1")]
    blocklist = load_blocklist(lists)
    probes = [*urls, *(f"https://sub.{d}/" for d in list(blocklist.domains)[:300])]
    got = reasons(probes, lists=lists)
    for url, reason in zip(probes, got, strict=True):
        host = (urlsplit(url).hostname or "").removeprefix("www.") if url else ""
        listed = [d for d in blocklist.domains if host == d or host.endswith("." + d)]
        white = any(host == d or host.endswith("." + d) for d in blocklist.allow_domains)
        if listed and not white:
            assert reason is not None, url
        elif reason is not None:  # not on a domain list: must come from a URL entry
            assert reason.split(":")[1] in blocklist.urls.values(), url
    assert sum(r is not None for r in got) >= 300
