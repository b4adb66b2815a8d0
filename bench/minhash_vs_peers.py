"""MinHash near-dedup, gencommons vs datasketch, rensa and datatrove: speed, memory and quality in one run.

    .venv/bin/python bench/minhash_vs_peers.py                 # ~33k documents, ~6 minutes on 2 cores
    .venv/bin/python bench/minhash_vs_peers.py --repeat 1 --no-spacy   # ~11k documents, ~1 minute

**Corpus**: the quality corpus of ``_minhash_corpus.py`` (``--originals`` real documents with 1–3
injected near-duplicates each, ground truth and true Jaccard known) repeated ``--repeat`` (3) times
with unique ids (``<id>#r``): a copy joins its document's ground-truth cluster, so every cluster grows
and the truth still holds. Dealt into 8 gzip'd JSONL files; every tool reads the same files.

**Parameters**, the same for all: word 5-grams of lowercased text, 112 permutations as 14 bands × 8
rows, no verification of candidates, union-find clusters, the first document (input order) kept.

**Runs** (each a fresh subprocess; ``_measure.py``: CPU time and peak RSS of the process tree):

* gencommons ``minhash_dedup`` (defaults: ``hashing: superminhash``), the local executor at 1 and 2
  workers, one task per file; at 1 worker with ``hashing: minhash`` (independent permutations, as
  datasketch and datatrove hash: exactly the S-curve); and at 1 worker
  with ``verify: true`` (the true Jaccard of every candidate pair; no peer has it, so no ratio); and
  at 1 worker "memory first": Arrow's allocator (jemalloc) told to return freed pages at once
  (``JE_ARROW_MALLOC_CONF=dirty_decay_ms:0,muzzy_decay_ms:0``), less memory for more CPU time;
* datasketch ``MinHash`` + ``MinHashLSH`` and rensa ``RMinHash`` + ``RMinHashLSH``, each inside the
  same complete step (``_minhash_peer_driver.py``: read, tokenize, shingle, signatures, LSH
  insert/query, union-find, keep-first filter, Parquet output) in one process;
* datatrove's 4-stage MinHash pipeline (``_datatrove_minhash_driver.py``) with
  ``LocalPipelineExecutor`` at 1 and 2 workers, with its default spaCy word tokenizer and with a regex
  tokenizer (``--no-spacy`` skips the slow spaCy runs);
* the floor: read + tokenize + hash shingles without MinHash, then the signature stage alone, once
  with gencommons' own functions (``shingle_hashes``, ``signatures``), once with its compiled loops
  alone in a process without pyarrow or polars (how small the stage can be in memory), and once in
  plain Python (string 5-grams + xxh3, numpy signatures);
* the Arrow I/O floor: what an Arrow engine reads and writes around any step (JSONL into Arrow batches,
  an lz4 Parquet intermediate, zstd Parquet output) with no step at all: the least memory such an
  engine can use on this corpus.

**Reported**: docs per CPU-second, docs/s, peak RSS; precision and recall of found pairs per
true-Jaccard bucket (``_minhash_scoring.py``: found pairs = pairs in one output cluster); ratios
gencommons / peer (single-process peers vs gencommons at 1 worker, datatrove at equal workers);
per-phase seconds. Checks: gencommons at 1 and 2 workers (and datatrove's runs) must produce the same
clusters. Writes ``bench/results/minhash_vs_peers.md`` (printed too) and ``.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from importlib.metadata import version
from typing import Any

import psutil

from _minhash_corpus import ORIGINALS, build_corpus
from _minhash_corpus import WORK as MINHASH_WORK
from _minhash_runs import (
    datatrove_minhash_run,
    ensure_data_venv,
    gencommons_minhash_run,
    minhash_params,
    peer_run,
    warm_up,
)
from _minhash_scoring import (
    Truth,
    clusters_datatrove,
    clusters_from_parquet,
    clusters_gencommons,
    pairs_row,
    recall_table,
    score,
)
from _results import write_results
from filters_vs_datatrove import (
    ROOT,
    Run,
    ensure_datatrove_venv,
    git_state,
    run_all,
    run_row,
    snapshot_source,
    tool_versions,
)

RESULTS = ROOT / "bench" / "results"
WORK = MINHASH_WORK / "peers"
BANDS, ROWS = 14, 8
FLOOR_RUNS = (  # (run, --tool of _minhash_peer_driver.py): phases only, not a complete step
    ("floor: gencommons shingle_hashes + signatures", "gencommons-floor"),
    ("floor: gencommons kernels alone, without pyarrow or polars, 1,000-document batches", "gencommons-lean"),
    ("floor: Arrow input and output alone (JSONL, lz4 Parquet, zstd Parquet; no step)", "arrow-io"),
    ("floor: Python 5-gram strings + xxh3 + numpy", "floor"),
)
FLOORS = tuple(tool for _, tool in FLOOR_RUNS)
DATA_ONLY = "gencommons w=1, data extra only"  # its own venv: what `pip install gencommons[data]` brings
MINHASH = "gencommons minhash w=1"  # hashing: minhash (independent permutations; the default is superminhash)
VERIFY = "gencommons verify w=1"  # verify: true (no peer verifies: its cost, not a ratio)
# Arrow's allocator (jemalloc) returning freed pages at once: the memory-first setting, for CPU time
MEMORY_FIRST = "gencommons w=1, memory first (JE_ARROW_MALLOC_CONF decay 0)"


def assignments(run: Run) -> dict[str, Any]:
    if run.tool == "gencommons":
        return clusters_gencommons(run.out)
    if run.tool.startswith("datatrove"):
        return clusters_datatrove(run.out)
    return clusters_from_parquet(run.out / "clusters.parquet")


def partition(assign: dict[str, Any]) -> set[frozenset[str]]:
    """Clusters as sets of ids, whatever their labels."""
    groups: dict[Any, set[str]] = {}
    for doc_id, label in assign.items():
        groups.setdefault(label, set()).add(doc_id)
    return {frozenset(g) for g in groups.values()}


def bucket_recall(s: dict[str, Any], bucket: str) -> float:
    return next(b["recall"] for b in s["buckets"] if b["bucket"] == bucket)


def ratio_rows(rows: dict[str, dict[str, Any]], workers: list[int]) -> list[dict[str, Any]]:
    """gencommons / peer: single-process peers against gencommons at 1 worker, datatrove at equal workers."""
    out = []
    for name, r in rows.items():
        if r["tool"] == "gencommons" or r["tool"] in FLOORS:
            continue
        w = r["workers"] if r["tool"].startswith("datatrove") else 1
        if w not in workers:
            continue
        for g in (
            rows.get(f"gencommons w={w}"),
            rows.get(DATA_ONLY) if w == 1 else None,
            rows.get(MINHASH) if w == 1 else None,
            rows.get(MEMORY_FIRST) if w == 1 else None,
        ):
            if g is None:
                continue
            out.append(
                {
                    "gencommons": g["run"],
                    "peer": name,
                    "cpu": g["docs_per_cpu_s"] / r["docs_per_cpu_s"],
                    "speed": g["docs_per_s"] / r["docs_per_s"],
                    "memory": g["peak_tree_rss_mb"] / r["peak_tree_rss_mb"],
                }
            )
    return out


def phases_text(r: dict[str, Any]) -> str:
    ph = r.get("phases") or {}
    return " · ".join(f"{k} {v:.2f}" for k, v in ph.items())


def markdown(
    meta: dict[str, Any],
    rows: list[dict[str, Any]],
    ratios: list[dict[str, Any]],
    scores: dict[str, Any],
    checks: list[dict[str, Any]],
) -> str:
    v = meta["versions"]
    lines = [
        "# MinHash near-dedup: gencommons vs datasketch, rensa and datatrove",
        "",
        (
            f"{meta['date']} · {meta['docs']:,} documents ({meta['base_docs']:,} × {meta['repeat']}: {meta['clusters']:,} "
            f"ground-truth clusters of real text from `shared/data/text` with injected near-duplicates) in {meta['files']} "
            f"files · word 5-grams, {BANDS} bands × {ROWS} rows (112 permutations), keep first · "
            f"{meta['cores']} cores, {meta['memory_gb']:.0f} GB · gencommons {meta['gencommons_source']} · "
            f"datasketch {v['datasketch']}, rensa {v['rensa']}, datatrove {v['datatrove']} (spaCy {v['spacy']}), "
            f"Python {v['python']}"
        ),
        "",
        (
            "pipeline s: inside the driver, imports excluded; CPU s and peak RSS: the whole process tree, start-up "
            "included; docs per CPU-s = documents / CPU s. Recall (per true-Jaccard bucket) and precision: of found "
            "pairs (pairs in one output cluster) against the ground truth; all buckets below."
        ),
        "",
        (
            "| run | workers | kept | pipeline s | CPU s | docs/s | docs per CPU-s | peak RSS, tree (MB) | "
            "peak RSS, 1 process (MB) | recall, J 0.7–0.8 | recall, J 0.8–0.9 | precision | other load (cores) |"
        ),
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        if r["tool"] in FLOORS:
            continue
        s = scores[r["run"]]
        lines.append(
            f"| {r['run']} | {r['workers']} | {r['kept']:,} | {r['pipeline_s']:.1f} | {r['cpu_s']:.1f} | "
            f"{r['docs_per_s']:,.0f} | {r['docs_per_cpu_s']:,.0f} | {r['peak_tree_rss_mb']:,.0f} | "
            f"{r['peak_proc_rss_mb']:,.0f} | {bucket_recall(s, '0.7–0.8'):.3f} | "
            f"{bucket_recall(s, '0.8–0.9'):.3f} | {s['precision']:.4f} | {r['other_cores']:.2f} |"
        )
    lines += [
        "",
        "## Ratios, gencommons / peer",
        "",
        "Above 1: gencommons is faster (docs per CPU-s, docs/s) or uses more memory (peak RSS, tree).",
        "",
        "| gencommons | peer | docs per CPU-s | docs/s | peak RSS |",
        "|---|---|--:|--:|--:|",
    ]
    for x in ratios:
        lines.append(
            f"| {x['gencommons']} | {x['peer']} | {x['cpu']:.2f}× | {x['speed']:.2f}× | {x['memory']:.2f}× |"
        )
    lines += [
        "",
        "## Quality: recall / precision of found pairs per true-Jaccard bucket",
        "",
        *recall_table(scores),
        pairs_row(next(iter(scores.values()))),
        "",
        "## Where the time goes: the floor vs the signature stage",
        "",
        (
            "Seconds per phase inside each run (wall). The floor is what any MinHash step spends before its first "
            "permutation: read + tokenize + shingle (+ hash the shingles); the signature stage is the MinHash "
            "itself. Both in documents per CPU-second of that phase alone (process CPU time, all threads). "
            "datatrove's first stage does read, tokenize, hash, MinHash and sort in one."
        ),
        "",
        "| run | phases (s) | floor: docs per CPU-s | signature stage: docs per CPU-s | peak RSS, tree (MB) |",
        "|---|---|--:|--:|--:|",
    ]
    for r in rows:
        ph, cpu = r.get("phases") or {}, r.get("phases_cpu") or {}
        if not ph:
            continue
        floor = sum(v for k, v in cpu.items() if k in ("read", "shingle", "hash"))
        sig = sum(v for k, v in cpu.items() if k in ("signature", "band_keys"))
        cells = [f"{r['docs_in'] / x:,.0f}" if x else "" for x in (floor, sig)]
        lines.append(
            f"| {r['run']} | {phases_text(r)} | {cells[0]} | {cells[1]} | {r['peak_tree_rss_mb']:,.0f} |"
        )
    lines += ["", "## Checks", ""]
    for c in checks:
        lines.append(
            f"- {c['label']}: {'same clusters' if c['same'] else 'DIFFERENT clusters'} ({c['detail']})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--originals", type=int, default=ORIGINALS, help="originals of the quality corpus")
    ap.add_argument("--repeat", type=int, default=3, help="copies of the quality corpus (unique ids)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-spacy", action="store_true", help="skip datatrove with spaCy (the slowest runs)")
    ap.add_argument("--no-datatrove", action="store_true", help="skip datatrove altogether")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument(
        "--no-data-venv",
        action="store_true",
        help="skip the run in bench/.venv-gencommons-data (gencommons[data] alone: no pandas)",
    )
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=10,
        help="before each run, wait up to this many seconds for other processes to go idle",
    )
    args = ap.parse_args(argv)

    t_start = time.perf_counter()
    WORK.mkdir(parents=True, exist_ok=True)
    if not args.no_datatrove:
        ensure_datatrove_venv()
    corpus = build_corpus(originals=args.originals, seed=args.seed, repeat=args.repeat)
    print(f"corpus: {corpus.docs:,} documents at {corpus.folder.relative_to(ROOT)}", flush=True)
    snapshot, src_hash = snapshot_source(WORK)
    sys.path.insert(0, str(snapshot))
    print(
        f"warm-up (one run on 200 documents): {warm_up(corpus, snapshot, WORK):.1f} s",
        flush=True,
    )

    runs: list[Run] = []
    for w in args.workers:
        runs.append(
            gencommons_minhash_run(
                f"gencommons w={w}",
                corpus,
                params=minhash_params(BANDS, ROWS),
                workers=w,
                snapshot=snapshot,
                work=WORK,
            )
        )

    def one_worker(name: str, params: dict[str, Any], **kw: Any) -> Run:
        return gencommons_minhash_run(
            name, corpus, params=params, workers=1, snapshot=snapshot, work=WORK, **kw
        )

    runs += [
        one_worker(
            MEMORY_FIRST,
            minhash_params(BANDS, ROWS),
            env={"JE_ARROW_MALLOC_CONF": "dirty_decay_ms:0,muzzy_decay_ms:0"},
        ),
        one_worker(MINHASH, minhash_params(BANDS, ROWS, hashing="minhash")),
        one_worker(VERIFY, minhash_params(BANDS, ROWS, verify=True)),
    ]
    if not args.no_data_venv:
        runs.append(one_worker(DATA_ONLY, minhash_params(BANDS, ROWS), python=ensure_data_venv()))
    for tool in ("datasketch", "rensa"):
        runs.append(peer_run(tool, tool, corpus, bands=BANDS, rows=ROWS, snapshot=snapshot, work=WORK))
    if not args.no_datatrove:
        for tok in ("regex", *(() if args.no_spacy else ("spacy",))):
            for w in args.workers:
                runs.append(
                    datatrove_minhash_run(
                        f"datatrove w={w}, {'spaCy' if tok == 'spacy' else 'regex'} tokenizer",
                        corpus,
                        workers=w,
                        tokenizer=tok,
                        bands=BANDS,
                        rows=ROWS,
                        work=WORK,
                    )
                )
    for name, tool in FLOOR_RUNS:
        runs.append(peer_run(name, tool, corpus, bands=BANDS, rows=ROWS, snapshot=snapshot, work=WORK))
    run_all(runs, corpus.docs, quiet_wait=args.quiet_wait, work=WORK)

    rows = []
    for r in runs:
        res = r.measured.result or {}
        row = run_row(r, corpus.docs) | {"phases": res.get("phases"), "phases_cpu": res.get("phases_cpu")}
        rows.append(row)
    by_name = {r["run"]: r for r in rows}

    print("scoring ...", flush=True)
    truth = Truth(corpus)
    scores: dict[str, Any] = {}
    parts: dict[str, set[frozenset[str]]] = {}
    for r in runs:
        if r.tool in FLOORS:
            continue
        assign = assignments(r)
        scores[r.name] = score(truth, assign)
        parts[r.name] = partition(assign)

    checks = []
    groups = {
        "gencommons": [n for n in parts if n.startswith("gencommons w=")],
        "datatrove, regex tokenizer": [n for n in parts if n.startswith("datatrove") and "regex" in n],
        "datatrove, spaCy tokenizer": [n for n in parts if n.startswith("datatrove") and "spaCy" in n],
    }
    for label, names in groups.items():
        if len(names) < 2:
            continue
        first = parts[names[0]]
        checks.append(
            {
                "label": f"{label} at workers {'; '.join(n.split('w=')[1] for n in names)}",
                "same": all(parts[n] == first for n in names),
                "detail": "; ".join(
                    f"{n}: {len(parts[n]):,} clusters, {by_name[n]['kept']:,} kept" for n in names
                ),
            }
        )

    versions = tool_versions() if not args.no_datatrove else {"gencommons": version("gencommons")}
    versions |= {
        "datasketch": version("datasketch"),
        "rensa": version("rensa"),
        "python": sys.version.split()[0],
    }
    versions.setdefault("datatrove", "–")
    versions.setdefault("spacy", "–")
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "docs": corpus.docs,
        "base_docs": corpus.base_docs,
        "repeat": corpus.repeat,
        "clusters": corpus.clusters,
        "files": corpus.files,
        "cores": len(os.sched_getaffinity(0)),
        "memory_gb": psutil.virtual_memory().total / 1e9,
        "versions": versions,
        "gencommons_source": f"git {git_state()}, snapshot {src_hash}",
        "corpus": str(corpus.folder.relative_to(ROOT)),
    }
    ratios = ratio_rows(by_name, args.workers)
    md = markdown(meta, rows, ratios, scores, checks)
    payload = {"meta": meta, "runs": rows, "ratios": ratios, "scores": scores, "checks": checks}
    write_results("minhash_vs_peers", md, payload)
    print(f"\nwrote bench/results/minhash_vs_peers.md and .json ({time.perf_counter() - t_start:.0f} s)")
    return 0 if all(c["same"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
