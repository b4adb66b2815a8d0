"""Peak memory of the dedup steps as the corpus grows: 1×, 4× and 16× the development corpus.

    .venv/bin/python bench/dedup_memory.py            # ~5 minutes on 2 cores
    .venv/bin/python bench/dedup_memory.py --scales 1 4

Each scale repeats shared/data/text (20,560 real documents) with unique ids and, from the second copy
on, a few words changed per document (so copies are near-duplicates, not exact ones: the clusters grow
with the scale, the worst case for the cluster stage), in 16 input files. Each run is one subprocess
(``_gencommons_driver.py``) measured by ``_measure.py``: wall and CPU time, peak RSS of the whole
process tree and of the largest process, next to what the resource plan (``--plan``) estimated for
the same run before it started. Written to ``bench/results/dedup_memory.md`` and ``.json``.
Bounded memory means the peak grows much slower than the corpus: the map stages hold one batch per
worker whatever the corpus size; only the bucket and cluster stages grow with it (16 B per document and
band, see ``minhash_dedup``'s ``estimate``).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import random
import shutil
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from _measure import measure, wait_for_quiet
from gencommons.data.pipeline import Pipeline

ROOT = BENCH.parent
SHARED = ROOT.parent / "shared" / "data" / "text"
RESULTS = BENCH / "results"
SCRATCH = RESULTS / "scratch" / "dedup_memory"
N_FILES = 16


def build(scale: int) -> Path:
    folder = SCRATCH / f"corpus-x{scale}"
    if folder.exists():
        return folder
    recs = []
    for f in sorted(SHARED.glob("*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            recs.extend(json.loads(line) for line in fh)
    rng = random.Random(f"dedup-memory:{scale}")
    folder.mkdir(parents=True)
    with contextlib.ExitStack() as stack:
        handles = [
            stack.enter_context(gzip.open(folder / f"in-{i:02d}.jsonl.gz", "wt", encoding="utf-8"))
            for i in range(N_FILES)
        ]
        _write_copies(recs, scale, rng, handles)
    return folder


def _write_copies(recs: list[dict], scale: int, rng: random.Random, handles: list) -> None:  # type: ignore[type-arg]
    n = 0
    for copy in range(scale):
        for r in recs:
            text = r["text"]
            if copy:
                words = text.split()
                for _ in range(3):
                    if words:
                        words[rng.randrange(len(words))] = f"edit{copy}"
                text = " ".join(words)
            handles[n % N_FILES].write(json.dumps({"id": f"{r['id']}#{copy}", "text": text}) + "\n")
            n += 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=int, nargs="*", default=[1, 4, 16])
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    rows = []
    for scale in args.scales:
        corpus = build(scale)
        for step in ("minhash_dedup", "exact_dedup"):
            out = SCRATCH / f"out-{step}-x{scale}"
            cfg = {
                "input": {"path": str(corpus)},
                "steps": [step],
                "output": {"path": str(out), "rejected": False},
                "executor": {"kind": "local", "workers": args.workers},
            }
            cfg_path = SCRATCH / f"{step}-x{scale}.json"
            cfg_path.write_text(json.dumps(cfg))
            plan = Pipeline.from_dict(cfg).resource_plan(workers=args.workers)  # what --plan prints
            wait_for_quiet(30)
            m = measure(
                [sys.executable, str(BENCH / "_gencommons_driver.py"), "--config", str(cfg_path)],
                log_path=SCRATCH / f"{step}-x{scale}.log",
                cwd=ROOT,
            )
            res = m.result or {}
            rows.append(
                {
                    "step": step,
                    "scale": scale,
                    "docs": res.get("docs_in"),
                    "kept": res.get("docs_out"),
                    "seconds": round(res.get("seconds", 0.0), 1),
                    "cpu_s": round(m.cpu_s, 1),
                    "peak_tree_mb": round(m.peak_tree_rss / 1e6),
                    "peak_proc_mb": round(m.peak_proc_rss / 1e6),
                    "plan_docs": plan.docs,
                    "plan_task_mb": round(max(e.memory_per_task for e in plan.stages) / 1e6),
                    "plan_run_mb": round(plan.peak_memory / 1e6),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
            shutil.rmtree(out, ignore_errors=True)
    lines = [
        "# Dedup peak memory vs corpus size",
        "",
        (
            f"{args.workers} workers; the corpus is shared/data/text repeated with near-duplicate copies. "
            "plan: what `gencommons data run --plan` estimated before the run (documents, the largest task, "
            "the whole run), next to the measured figures."
        ),
        "",
        (
            "| step | scale | documents | plan: documents | kept | pipeline s | CPU s | peak RSS tree (MB) | "
            "plan: whole run (MB) | largest process (MB) | plan: largest task (MB) |"
        ),
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['step']} | {r['scale']}× | {r['docs']:,} | {r['plan_docs']:,} | {r['kept']:,} | {r['seconds']} "
            f"| {r['cpu_s']} | {r['peak_tree_mb']:,} | {r['plan_run_mb']:,} | {r['peak_proc_mb']:,} "
            f"| {r['plan_task_mb']:,} |"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dedup_memory.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "dedup_memory.json").write_text(json.dumps(rows, indent=2))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
