"""Throughput and peak memory of the ``substring_dedup`` step at 1×, 4× and 16× the shared corpus.

    .venv/bin/python bench/substring_dedup.py                                # ~10 minutes on 2 cores
    .venv/bin/python bench/substring_dedup.py --scales 1 --units word        # smoke test, ~20 s

The corpus is every record of ``shared/data/text/*.jsonl.gz`` (20,560 documents, 47 MB of UTF-8, 6.1 M
words) repeated N times, in one of two ways (``--copies``):

* ``distinct`` (default): copy c > 0 tags every word with ``~c`` (bytes grow by ~2 a word), so copies
  share no span and each keeps the real corpus's own repeats (licence texts, boilerplate): size scales,
  repeat density does not;
* ``exact``: plain copies, so every document is repeated N times: the worst case, where every unit is
  marked and every document is cut.

Each phase runs in its own process, so that its peak RSS (``ru_maxrss``, memory-mapped pages included)
is its own: ``sig`` (tokenize and write the signatures, shards of ~16 MB of text and batches of 5,000
documents as the engine makes them), ``index`` (plan groups, suffix array, PLCP, marks, cut ranges:
one process, groups one after the other) and ``decisions`` (cut the texts, shard by shard). The
step's functions are called directly, without the engine's executor, and on one core. Results go to
``bench/results/substring_dedup_<copies>.{json,md}``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data" / "text"
RESULTS = HERE / "results"
SCRATCH = RESULTS / "scratch" / "substring_dedup"
SHARD_BYTES = 16 * 2**20
BATCH = 5000


def _corpus(scale: int, copies: str) -> Iterator[list[str]]:
    """Shards of texts: the corpus ``scale`` times, cut into ~16 MB shards, made one at a time (the
    engine reads a shard at a time too: holding the whole corpus here would put it in the phase's peak)."""
    texts = []
    for f in sorted(SHARED.glob("*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            texts.extend(json.loads(line)["text"] for line in fh)
    shard: list[str] = []
    size = 0
    for c in range(scale):
        for t in texts:
            if c and copies == "distinct":
                t = re.sub(r"\S+", lambda m, c=c: f"{m.group()}~{c}", t)
            if size > SHARD_BYTES:
                yield shard
                shard, size = [], 0
            shard.append(t)
            size += len(t)
    yield shard


def _phase(phase: str, scale: int, unit: str, copies: str) -> dict[str, Any]:
    import psutil

    from gencommons.data.dedup.substring import (
        SubstringDedup,
        SubstringDedupParams,
        _sig_files,
        find_spans,
        index_bytes,
        units,
    )

    step, p = SubstringDedup(), SubstringDedupParams(unit=unit)  # type: ignore[arg-type]
    warm, _ = units(pa.array(["a b a b", "é"]), unit=unit)  # first calls outside the timing
    find_spans(warm.astype(">u4").view(np.uint8) if unit == "word" else warm, width=p.width, k=2)
    wd = str(SCRATCH / f"{unit}-{copies}-{scale}x")
    out: dict[str, Any] = {"base_rss": psutil.Process().memory_info().rss}  # interpreter + imports
    if phase == "sig":
        shutil.rmtree(wd, ignore_errors=True)
        os.makedirs(wd)
        seconds, n_shards, n_docs, text_bytes = 0.0, 0, 0, 0
        for s, docs in enumerate(_corpus(scale, copies)):
            t0 = time.perf_counter()
            for part, start in enumerate(range(0, len(docs), BATCH)):
                batch = pa.table({"text": pa.array(docs[start : start + BATCH], pa.large_string())})
                step.save_signatures(batch, p, workdir=wd, shard=s, part=part, first_row=start)
            seconds += time.perf_counter() - t0  # the step only, not making the copies
            n_shards, n_docs = s + 1, n_docs + len(docs)
            text_bytes += sum(len(t.encode()) for t in docs)
        out["seconds"] = seconds
        out["shards"] = n_shards
        out["docs"] = n_docs
        out["text_bytes"] = text_bytes
        out["units"] = sum(os.path.getsize(f) for _, f in _sig_files(wd)) // p.width
        out["estimate_bytes"] = index_bytes(out["units"], p.width)
    elif phase == "index":
        n_shards = len({s for s, _ in _sig_files(wd)})
        t0 = time.perf_counter()
        for stage in step.reduce_stages:
            for t in range(stage.tasks(p, n_shards)):
                stage.run(wd, t, n_shards, p)
        out["seconds"] = time.perf_counter() - t0
    else:
        n_shards = len({s for s, _ in _sig_files(wd)})
        counts: dict[str, int] = {}
        dropped = 0
        t0 = time.perf_counter()
        for s in range(n_shards):
            parts = Path(wd, "sig").glob(f"s{s:05d}-*.parquet")
            n_rows = sum(pq.ParquetFile(f).metadata.num_rows for f in parts)
            dec = step.decisions(p, workdir=wd, shard=s, n_rows=n_rows)
            dropped += len(dec["reason"].drop_null())
            for k, v in step.shard_counts(p, workdir=wd, shard=s).items():
                counts[k] = counts.get(k, 0) + v
        out["seconds"] = time.perf_counter() - t0
        out["counts"] = counts
        out["dropped"] = dropped
        shutil.rmtree(wd, ignore_errors=True)
    out["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return out


def _run(phase: str, scale: int, unit: str, copies: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", phase, str(scale), unit, copies]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line[len("RESULT ") :])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--scales", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--units", nargs="+", default=["word", "byte"], choices=["word", "byte"])
    ap.add_argument("--copies", default="distinct", choices=["distinct", "exact"])
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        phase, scale, unit, copies = args.child
        print("RESULT " + json.dumps(_phase(phase, int(scale), unit, copies)))
        return
    rows = []
    for unit in args.units:
        for scale in args.scales:
            r = {"unit": unit, "scale": scale, "copies": args.copies}
            for phase in ("sig", "index", "decisions"):
                r[phase] = _run(phase, scale, unit, args.copies)
                print(unit, scale, phase, json.dumps(r[phase]), flush=True)
            rows.append(r)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"substring_dedup_{args.copies}.json").write_text(
        json.dumps(rows, indent=2) + "\n", encoding="utf-8"
    )
    md = [
        f"copies: {args.copies}; units/s = units indexed / seconds of the phase, one core; peak RSS "
        f"includes ~{rows[0]['index']['base_rss'] / 1e9:.2f} GB of interpreter and imports"
        if rows
        else "",
        "",
        (
            "| unit | scale | docs | text MB | units (M) | sig units/s | index units/s | decisions units/s "
            "| total units/s | peak RSS sig / index / decisions (GB) | index estimate (GB) | chars cut "
            "| docs cut | dropped |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        n = r["sig"]["units"]
        secs = [r[ph]["seconds"] for ph in ("sig", "index", "decisions")]
        c = r["decisions"]["counts"]
        md.append(
            f"| {r['unit']} | {r['scale']}× | {r['sig']['docs']:,} | {r['sig']['text_bytes'] / 1e6:.0f} "
            f"| {n / 1e6:.1f} | {n / secs[0] / 1e6:.2f} M | {n / secs[1] / 1e6:.2f} M | {n / secs[2] / 1e6:.2f} M "
            f"| {n / sum(secs) / 1e6:.2f} M | "
            + " / ".join(f"{r[ph]['peak_rss'] / 1e9:.2f}" for ph in ("sig", "index", "decisions"))
            + f" | {r['sig']['estimate_bytes'] / 1e9:.2f} | {c.get('chars_removed', 0):,} "
            f"| {c.get('docs_changed', 0):,} | {r['decisions']['dropped']:,} |"
        )
    (RESULTS / f"substring_dedup_{args.copies}.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    print("\n".join(md))


if __name__ == "__main__":
    main()
