"""How well and how fast each registered HTML extractor finds a page's main text.

Reads the 200 real pages of ``shared/data/html`` (raw bytes, original encodings) and the gold snippets
of its ``index.jsonl``: ``with`` (text a correct extraction must contain) and ``without``
(boilerplate it must not). Each page is decoded with ``decode_html`` (there is no HTTP header) and
extracted with every extractor of ``gencommons.data.io.html.extractors``, in this one process.

Reported per extractor: the fraction of ``with`` snippets found and of ``without`` snippets avoided
(whitespace collapsed on both sides before matching, since extractors lay out lines differently),
pages with an empty extraction, and pages per second (decoding + extraction, one core, wall clock).

    .venv/bin/python bench/html_extraction.py [--data ../shared/data/html] [--repeat 3]

The pages belong to their publishers: they are read from ``shared/`` and never copied.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from pathlib import Path

from gencommons.data.io.html import decode_html, extractors

ROOT = Path(__file__).resolve().parents[1]
_WS = re.compile(r"\s+")


def _squash(text: str) -> str:
    return _WS.sub(" ", text).strip()


def load_pages(data: Path) -> list[tuple[bytes, list[str], list[str]]]:
    """(raw HTML, with snippets, without snippets) for every page of ``index.jsonl``."""
    pages = []
    with open(data / "index.jsonl", encoding="utf-8") as fh:
        for line in fh:
            entry = json.loads(line)
            raw = gzip.decompress((data / entry["file"]).read_bytes())
            pages.append((raw, [_squash(s) for s in entry["with"]], [_squash(s) for s in entry["without"]]))
    return pages


def measure(name: str, pages: list[tuple[bytes, list[str], list[str]]], *, repeat: int) -> dict[str, float]:
    extract = extractors[name]
    found = avoided = n_with = n_without = empty = 0
    best = float("inf")
    for round_ in range(repeat):
        start = time.perf_counter()
        texts = [extract(decode_html(raw)) for raw, _, _ in pages]
        best = min(best, time.perf_counter() - start)
        if round_:
            continue  # the extractors are deterministic: score the first round only
        for text, (_, with_, without) in zip(texts, pages, strict=True):
            flat = _squash(text)
            empty += not flat
            found += sum(s in flat for s in with_)
            avoided += sum(s not in flat for s in without)
            n_with += len(with_)
            n_without += len(without)
    return {
        "with_found": found / n_with,
        "without_avoided": avoided / n_without,
        "empty_pages": empty,
        "pages_per_s": len(pages) / best,
        "pages": len(pages),
        "with": n_with,
        "without": n_without,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "html")
    parser.add_argument("--repeat", type=int, default=3, help="timing rounds; the fastest is reported")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "html_extraction.json")
    parser.add_argument("extractors", nargs="*", help="names to measure (default: every registered one)")
    args = parser.parse_args(argv)
    if not (args.data / "index.jsonl").exists():
        print(f"no pages at {args.data} (pass --data)", file=sys.stderr)
        return 2
    pages = load_pages(args.data)
    results = {}
    print(f"{'extractor':<14} {'with found':>10} {'without avoided':>15} {'empty':>5} {'pages/s':>8}")
    for name in args.extractors or extractors.names():
        r = results[name] = measure(name, pages, repeat=args.repeat)
        print(
            f"{name:<14} {r['with_found']:>10.3f} {r['without_avoided']:>15.3f} {r['empty_pages']:>5} "
            f"{r['pages_per_s']:>8.0f}",
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
