"""Build the bundled sample corpus in examples/sample/: openly licensed, small, byte-for-byte reproducible.

    .venv/bin/python examples/sample/build_sample.py [--shared ../shared/data] [--debs DIR]

Writes, next to this script:

    gutenberg.jsonl.gz      chunks of 19 Project Gutenberg books in 5 languages (public domain in the USA)
    debian-man.jsonl.gz     man-page chunks in 8 languages, only records with an SPDX licence
    debian-docs.warc.gz     HTML pages of two Debian manuals as a crawl: request + response records
    texts/*.txt             the reStructuredText sources of one of those manuals
    LICENSES/*.copyright    the Debian copyright files of the two manual packages
    README.md               what each file holds, where it came from, its licence and counts

The JSONL inputs are the shared development corpus (``shared/data/text``, checked by sha256). The two
.deb files are fetched with ``apt-get download`` at the pinned versions (any machine with Debian 12
sources), or read from ``--debs`` (download them from the pool URLs in ``DEBS``); their sha256 is
checked. Every random choice uses ``random.Random(f"{SEED}:{purpose}")`` over inputs in sorted order,
gzip headers carry no name or time and WARC dates and record ids are fixed, so a rerun gives the same
bytes.
"""

from __future__ import annotations

import argparse
import email.utils
import gzip
import hashlib
import io
import json
import random
import re
import subprocess
import sys
import tarfile
import tempfile
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SEED = 20261128

SHARED_SHA256 = {
    "gutenberg.jsonl.gz": "b8136cf4cdd40efb5f9795c51bfe5a0246a99c833ce241cc56e219a3ca1a3c30",
    "debian-man.jsonl.gz": "464e0ba4e52024fdd999c97485d351cc3551731e2fb4c288b4af1730e6ee3d1e",
}
GUTENBERG_PER_LANG = 60
MAN_LANGS = ("en", "de", "fr", "es", "it", "pt", "ru", "zh")
MAN_CHUNKS_PER_LANG = 40

# package -> (version, sha256 of the .deb, pool path on deb.debian.org/debian/)
DEBS = {
    "developers-reference": (
        "12.18",
        "0dba82f6fa16e373f2a84ad07e7971aa9264ad2e7d2ae46b37edbc9c5fd57e2e",
        "pool/main/d/developers-reference/developers-reference_12.18_all.deb",
    ),
    "debian-handbook": (
        "11.20220922",
        "3d5dbeac1f1afc9c094eab9d0f701f6ecff99c4927d5a4794cf6c85678134faa",
        "pool/main/d/debian-handbook/debian-handbook_11.20220922_all.deb",
    ),
}
DEVREF_DIR = "usr/share/developers-reference/"
DEVREF_URL = "https://www.debian.org/doc/manuals/developers-reference/"
DEVREF_SKIP = {"developers-reference.html"}  # the whole manual on one page: a copy of the others
HANDBOOK_DIR = "usr/share/doc/debian-handbook/html/"
HANDBOOK_URL = "https://debian-handbook.info/browse/"  # + <lang>/stable/<page>.html: the book's own site
HANDBOOK_LANGS = ("ar-MA", "de-DE", "en-US", "es-ES", "fr-FR", "it-IT", "ja-JP", "pt-BR", "ru-RU", "zh-CN")
HANDBOOK_PAGES_PER_LANG = 20  # index.html and 19 drawn at random
# a few non-HTML responses a crawler fetches with the pages (the reader must skip them)
STATIC = [
    ("developers-reference", DEVREF_DIR + "_static/nature.css", DEVREF_URL + "_static/nature.css"),
    ("developers-reference", DEVREF_DIR + "_static/file.png", DEVREF_URL + "_static/file.png"),
    (
        "debian-handbook",
        HANDBOOK_DIR + "en-US/Common_Content/css/common.css",
        HANDBOOK_URL + "en-US/stable/Common_Content/css/common.css",
    ),
]
CRAWL_START = datetime(2025, 11, 1, tzinfo=UTC)
WARC_NAME = "debian-docs.warc.gz"
RECORD_NS = uuid.UUID("6f1c1a52-2f55-5d8e-9d6c-2f1e8c1b5a10")  # uuid5 namespace of our record ids


def rng(purpose: str) -> random.Random:
    return random.Random(f"{SEED}:{purpose}")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_gz(path: Path, data: bytes) -> None:
    """gzip with no file name and mtime 0 in the header, so the bytes depend on the content only."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(data)
    path.write_bytes(buf.getvalue())


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    if sha256(data) != SHARED_SHA256[path.name]:
        sys.exit(f"{path}: not the shared file this sample was built from (sha256 differs)")
    return [json.loads(line) for line in gzip.decompress(data).decode("utf-8").splitlines()]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    write_gz(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8"))


def sample_gutenberg(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """GUTENBERG_PER_LANG chunks per language, drawn at random, kept in corpus order; records unchanged."""
    by_lang = defaultdict(list)
    for i, r in enumerate(records):
        by_lang[r["lang"]].append(i)
    keep = []
    for lang in sorted(by_lang):
        keep += rng(f"gutenberg:{lang}").sample(by_lang[lang], GUTENBERG_PER_LANG)
    return [records[i] for i in sorted(keep)]


def open_spdx(expr: str) -> bool:
    """An SPDX expression of listed licences only: no NOASSERTION, no LicenseRef- of our own making."""
    return bool(expr) and expr != "NOASSERTION" and "LicenseRef-" not in expr


def sample_man(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Whole pages (their first chunks, as the corpus has them) until a language has its share."""
    pages: dict[str, dict[str, list[int]]] = {lang: defaultdict(list) for lang in MAN_LANGS}
    for i, r in enumerate(records):
        if r["lang"] in pages and open_spdx(r["license"]):
            pages[r["lang"]][r["meta"]["path"]].append(i)
    keep = []
    for lang in MAN_LANGS:
        order = sorted(pages[lang])
        rng(f"man:{lang}").shuffle(order)
        n = 0
        for page in order:
            if n >= MAN_CHUNKS_PER_LANG:
                break
            keep += pages[lang][page]
            n += len(pages[lang][page])
    return [records[i] for i in sorted(keep)]


def fetch_debs(debs_dir: Path | None, tmp: Path) -> dict[str, bytes]:
    """The pinned .deb files, from debs_dir or apt-get download; sha256 checked."""
    out = {}
    for pkg, (version, digest, pool) in DEBS.items():
        name = Path(pool).name
        if debs_dir is None:
            subprocess.run(["apt-get", "download", f"{pkg}={version}"], cwd=tmp, check=True)
            path = next(tmp.glob(f"{pkg}_*.deb"))  # apt may escape characters of the version
        else:
            path = debs_dir / name
        data = path.read_bytes()
        if sha256(data) != digest:
            sys.exit(
                f"{path}: sha256 differs from the pinned {pkg} {version} (https://deb.debian.org/debian/{pool})"
            )
        out[pkg] = data
    return out


def deb_files(deb: bytes) -> dict[str, tuple[bytes, int]]:
    """path -> (content, mtime) of the files (not symlinks) in a .deb's data archive (an ar archive)."""
    assert deb.startswith(b"!<arch>\n"), "not a .deb"
    pos = 8
    while pos < len(deb):
        name = deb[pos : pos + 16].decode().strip().rstrip("/")
        size = int(deb[pos + 48 : pos + 58])
        body = deb[pos + 60 : pos + 60 + size]
        pos += 60 + size + (size % 2)
        if name.startswith("data.tar"):
            files = {}
            with tarfile.open(fileobj=io.BytesIO(body)) as tar:
                for m in tar.getmembers():
                    if m.isfile() or m.islnk():  # publican hard-links its shared files
                        files[m.name.removeprefix("./")] = (tar.extractfile(m).read(), int(m.mtime))  # type: ignore[union-attr]
            return files
    raise ValueError("no data archive in the .deb")


def plan_pages(files: dict[str, dict[str, tuple[bytes, int]]]) -> list[tuple[str, str, str, str]]:
    """(package, path in the package, URL, language) of every HTML page in the WARC, in crawl order."""
    pages = []
    devref = sorted(
        p
        for p in files["developers-reference"]
        if p.startswith(DEVREF_DIR) and p.endswith(".html") and p.count("/") == 3
    )
    for p in devref:
        name = p.rsplit("/", 1)[1]
        if name not in DEVREF_SKIP:
            pages.append(("developers-reference", p, DEVREF_URL + name.replace(".html", ".en.html"), "en"))
    for lang in HANDBOOK_LANGS:
        prefix = f"{HANDBOOK_DIR}{lang}/"
        names = sorted(
            p[len(prefix) :]
            for p in files["debian-handbook"]
            if p.startswith(prefix) and p.endswith(".html") and "/" not in p[len(prefix) :]
        )
        chosen = [
            "index.html",
            *rng(f"handbook:{lang}").sample(
                [n for n in names if n != "index.html"], HANDBOOK_PAGES_PER_LANG - 1
            ),
        ]
        for name in sorted(chosen):
            pages.append(("debian-handbook", prefix + name, f"{HANDBOOK_URL}{lang}/stable/{name}", lang))
    return pages


def record_id(url: str, kind: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(RECORD_NS, f'{kind} {url}')}>"


def build_warc(files: dict[str, dict[str, tuple[bytes, int]]], out: Path) -> dict[str, Any]:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    pages = plan_pages(files)
    fetches = [(pkg, path, url, lang) for pkg, path, url, lang in pages]
    fetches += [(pkg, path, url, None) for pkg, path, url in STATIC]
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True, warc_version="1.0")
    info = (
        f"software: gencommons examples/sample/build_sample.py\r\nformat: WARC File Format 1.0\r\n"
        f"description: pages of the Debian packages {', '.join(f'{p} {v[0]}' for p, v in DEBS.items())}"
        f" written as a crawl of www.debian.org; not fetched from it\r\n"
    ).encode()
    writer.write_record(
        writer.create_warc_record(
            "",
            "warcinfo",
            payload=io.BytesIO(info),
            length=len(info),
            warc_content_type="application/warc-fields",
            warc_headers_dict={
                "WARC-Record-ID": record_id(WARC_NAME, "warcinfo"),
                "WARC-Filename": WARC_NAME,
                "WARC-Date": CRAWL_START.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        )
    )
    types = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".png": "image/png"}
    for i, (pkg, path, url, lang) in enumerate(fetches):
        body, mtime = files[pkg][path]
        if path.endswith(".html") and not re.search(
            rb"<meta[^>]*charset=.?utf-8", body[:2048], re.IGNORECASE
        ):
            sys.exit(f"{pkg}: {path} doesn't declare UTF-8, which its Content-Type header would claim")
        when = CRAWL_START + timedelta(seconds=i + 1)
        warc_date = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        host, _, target = url.removeprefix("https://").partition("/")
        req = StatusAndHeaders(
            f"GET /{target} HTTP/1.1",
            [
                ("Host", host),
                ("User-Agent", "gencommons-sample/1 (examples/sample/build_sample.py)"),
                ("Accept", "*/*"),
                ("Accept-Encoding", "identity"),
            ],
            is_http_request=True,
        )
        headers = [
            ("Date", email.utils.format_datetime(when, usegmt=True)),
            ("Last-Modified", email.utils.formatdate(mtime, usegmt=True)),
            ("Content-Type", types[Path(path).suffix]),
            ("Content-Length", str(len(body))),
        ]
        if lang is not None:
            headers.append(("Content-Language", lang))
        resp = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
        resp_id = record_id(url, "response")
        writer.write_record(
            writer.create_warc_record(
                url,
                "request",
                payload=io.BytesIO(b""),
                length=0,
                http_headers=req,
                warc_headers_dict={
                    "WARC-Record-ID": record_id(url, "request"),
                    "WARC-Date": warc_date,
                    "WARC-Concurrent-To": resp_id,
                },
            )
        )
        writer.write_record(
            writer.create_warc_record(
                url,
                "response",
                payload=io.BytesIO(body),
                length=len(body),
                http_headers=resp,
                warc_headers_dict={"WARC-Record-ID": resp_id, "WARC-Date": warc_date},
            )
        )
    out.write_bytes(buf.getvalue())
    langs = Counter(lang.split("-")[0] for _, _, _, lang in pages)  # en-US, en -> en
    return {
        "html": len(pages),
        "static": len(STATIC),
        "records": 1 + 2 * len(fetches),
        "by_package": Counter(pkg for pkg, *_ in pages),
        "by_lang": langs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument(
        "--debs", type=Path, help="folder holding the two pinned .deb files (else apt-get download)"
    )
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    out: Path = args.out
    (out / "texts").mkdir(parents=True, exist_ok=True)
    (out / "LICENSES").mkdir(exist_ok=True)

    gutenberg = sample_gutenberg(read_jsonl(args.shared / "text" / "gutenberg.jsonl.gz"))
    write_jsonl(out / "gutenberg.jsonl.gz", gutenberg)
    man = sample_man(read_jsonl(args.shared / "text" / "debian-man.jsonl.gz"))
    write_jsonl(out / "debian-man.jsonl.gz", man)

    with tempfile.TemporaryDirectory() as tmp:
        debs = fetch_debs(args.debs, Path(tmp))
    files = {pkg: deb_files(data) for pkg, data in debs.items()}
    warc = build_warc(files, out / WARC_NAME)
    for pkg in DEBS:
        (out / "LICENSES" / f"{pkg}.copyright").write_bytes(files[pkg][f"usr/share/doc/{pkg}/copyright"][0])
    texts = sorted(p for p in files["developers-reference"] if p.startswith(DEVREF_DIR + "_sources/"))
    for p in texts:
        (out / "texts" / p.rsplit("/", 1)[1]).write_bytes(files["developers-reference"][p][0])

    stats = {
        "gutenberg": {
            "records": len(gutenberg),
            "by_lang": Counter(r["lang"] for r in gutenberg),
            "books": len({r["meta"]["pg_ebook"] for r in gutenberg}),
        },
        "man": {
            "records": len(man),
            "by_lang": Counter(r["lang"] for r in man),
            "pages": len({(r["lang"], r["meta"]["path"]) for r in man}),
            "by_license": Counter(r["license"] for r in man),
            "packages": sorted({(r["meta"]["package"], r["meta"]["version"]) for r in man}),
        },
        "warc": warc,
        "texts": [p.rsplit("/", 1)[1] for p in texts],
    }
    (out / "README.md").write_text(readme(out, stats), encoding="utf-8")
    print(json.dumps(stats, indent=1, default=str)[:3000])
    return 0


def readme(out: Path, s: dict[str, Any]) -> str:
    def size(name: str) -> str:
        return f"{(out / name).stat().st_size / 1024:,.0f} KB"

    def counts(c: Counter[str]) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))

    g, m, w = s["gutenberg"], s["man"], s["warc"]
    man_pkgs = ", ".join(f"{p} {v}" for p, v in m["packages"])
    devref_v, handbook_v = DEBS["developers-reference"][0], DEBS["debian-handbook"][0]
    text_size = sum((out / "texts" / t).stat().st_size for t in s["texts"]) / 1024
    return f"""# Sample corpus

A small, openly licensed corpus bundled with gencommons so `make demo` and the tests run on real text
with no download: prose in five languages, man pages in eight, a WARC of real HTML pages in ten and
plain-text files. Every file is made by `build_sample.py` (seeded, byte-for-byte reproducible; see its
docstring); edit the script, not the files.

| file | what | count | size | licence |
|---|---|---:|---:|---|
| `gutenberg.jsonl.gz` | Project Gutenberg book chunks | {g["records"]} records | {size("gutenberg.jsonl.gz")} | `LicenseRef-PD-US-Gutenberg` (public domain in the USA) |
| `debian-man.jsonl.gz` | man-page chunks | {m["records"]} records | {size("debian-man.jsonl.gz")} | per record (`license`, SPDX): {counts(m["by_license"])} |
| `{WARC_NAME}` | two Debian manuals' HTML written as a crawl (WARC 1.0) | {w["html"]} pages, {w["records"]} records | {size(WARC_NAME)} | GPL-2.0-or-later; the Handbook also CC-BY-SA-3.0 |
| `texts/*.txt` | reStructuredText sources of the Developer's Reference | {len(s["texts"])} files | {text_size:,.0f} KB | GPL-2.0-or-later |
| `LICENSES/*.copyright` | the Debian copyright files of the two manual packages | 2 files | | |

## gutenberg.jsonl.gz

- **Source**: `shared/data/text/gutenberg.jsonl.gz` (sha256 `{SHARED_SHA256["gutenberg.jsonl.gz"][:16]}…`), made from
  OneDeadKey/kalamine-corpus @ 97a842c440ce85e6fd784c2dc96f53d528067b1d, `corpus/gutenberg/*.txt`: the raw
  Project Gutenberg files, with PG's header, footer and licence (its trademark terms) cut off. {g["books"]} books;
  each record's `meta` names its title, author, translator, PG ebook number and the repo path.
- **Licence**: the books are in the public domain in the USA (`LicenseRef-PD-US-Gutenberg`); check the law
  of your country before reuse elsewhere. "Project Gutenberg" is a trademark; this text carries none of it.
- **Counts**: {counts(g["by_lang"])}.
- **How**: {GUTENBERG_PER_LANG} chunks per language drawn at random (seed {SEED}), kept in corpus order; records
  unchanged (`id`, `text`, `source`, `license`, `lang`, `url`, `meta`).

## debian-man.jsonl.gz

- **Source**: `shared/data/text/debian-man.jsonl.gz` (sha256 `{SHARED_SHA256["debian-man.jsonl.gz"][:16]}…`): man
  pages of Debian 12.11 rendered with `man -E UTF-8 -P cat` at 80 columns and cut into chunks of 50–600
  words (the first 3 chunks of each page). Packages (`meta.package`, `meta.version` on each record): {man_pkgs}.
- **Licence**: the owning package's licence from its Debian copyright file, as an SPDX expression in
  `license` (the Debian name in `meta.license_debian`); records with `NOASSERTION` or a `LicenseRef-` were
  left out. The licence texts: <https://spdx.org/licenses/> under each id (GPL-2.0-or-later,
  GPL-3.0-or-later, GFDL-1.2-or-later, ...), and each package's `/usr/share/doc/<package>/copyright`
  (sources: <https://sources.debian.org/src/PACKAGE/VERSION/debian/copyright>). A translated page also
  derives from the original English page and its licence.
- **Counts**: {m["pages"]} pages; by language: {counts(m["by_lang"])}.
- **How**: per language, whole pages drawn at random among those with an SPDX licence until
  {MAN_CHUNKS_PER_LANG} chunks are reached; records unchanged.

## {WARC_NAME}

- **Source**: two Debian 12 packages; the HTML files of their `data.tar`, unchanged:
  - `developers-reference` {devref_v} (the Debian Developer's Reference; Sphinx HTML, English):
    {w["by_package"]["developers-reference"]} pages, all but the one-page copy of the whole manual; URLs
    `{DEVREF_URL}<page>.en.html`, where www.debian.org publishes it;
  - `debian-handbook` {handbook_v} (The Debian Administrator's Handbook, Debian 11 edition; publican HTML):
    `index.html` and {HANDBOOK_PAGES_PER_LANG - 1} pages drawn at random in each of {len(HANDBOOK_LANGS)} languages
    ({", ".join(HANDBOOK_LANGS)}), {w["by_package"]["debian-handbook"]} pages; URLs
    `{HANDBOOK_URL}<lang>/stable/<page>.html`, the book's own site (www.debian.org doesn't host it).
  - .deb files: <https://deb.debian.org/debian/{DEBS["developers-reference"][2]}> (sha256
    `{DEBS["developers-reference"][1]}`) and <https://deb.debian.org/debian/{DEBS["debian-handbook"][2]}>
    (sha256 `{DEBS["debian-handbook"][1]}`).
- **Licence**: the Developer's Reference is `GPL-2.0-or-later` ("version 2, or (at your option) any later
  version": `LICENSES/developers-reference.copyright`, and the notice on its index page). The Handbook is
  `GPL-2.0-or-later OR CC-BY-SA-3.0`, at your choice (`LICENSES/debian-handbook.copyright`, and the legal
  notice on every `index.html`, in each language); © Raphaël Hertzog, Roland Mas, Freexian SARL. Licence texts:
  <https://spdx.org/licenses/GPL-2.0-or-later.html>, <https://creativecommons.org/licenses/by-sa/3.0/>.
  The HTML is generated; its source is in the Debian source packages of the same names and versions
  (<https://sources.debian.org/src/developers-reference/{devref_v}/>,
  <https://sources.debian.org/src/debian-handbook/{handbook_v}/>); the Developer's Reference sources are also in
  `texts/`.
- **Counts**: {w["records"]} records: 1 `warcinfo`, then per fetched URL a `request` and a `response`;
  {w["html"]} HTML responses (by language: {counts(w["by_lang"])}) and {w["static"]} responses that are not
  HTML (CSS, PNG), which a WARC reader skips.
- **How**: written with warcio as if crawled, though nothing was fetched: the URLs follow each site's naming
  scheme and were not checked, so a few may not resolve, and the Handbook's `stable` edition online may be
  newer than this one. HTTP headers: `200 OK`, `Date`, `Last-Modified` (the file's time in the package),
  `Content-Type` with `charset=utf-8` (every page declares UTF-8; the script checks), `Content-Length`,
  `Content-Language`. `WARC-Date` counts one second per fetch from {CRAWL_START:%Y-%m-%d}; record ids are
  UUID-5 of the URL.

## texts/

The {len(s["texts"])} `_sources/*.rst.txt` files of `developers-reference` {devref_v} (GPL-2.0-or-later, see above),
unchanged: the sources the Developer's Reference pages of the WARC were built from, one document per file.
"""


if __name__ == "__main__":
    sys.exit(main())
