"""Resource plan: how much memory and disk each stage of a pipeline will need, estimated before any
work starts (``gencommons data run --plan``), and the check that refuses a run that will not fit.

The estimate samples the first input file (up to 2,000 documents) for the average document size and
the compression ratio, scales to the whole input by bytes on disk, and asks each step for its own
figures: a global step may define ``estimate(p, *, docs, text_bytes, shards) -> list[Estimate]``
(one per stage it adds). The factors are measured peaks on the development corpus (see each
``estimate``), rounded up; they are estimates, not bounds.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from typing import Any

from gencommons.data.io.reading import BadRecords, ReadOptions, readers
from gencommons.errors import UserError

SAMPLE_DOCS = 2_000
# peak resident bytes of a map task per byte of batch text (tokenizing and scoring a batch with
# polars; measured ~25x on the development corpus for the Gopher/C4 filters) plus the interpreter
MAP_FACTOR = 30
WORKER_BASE = 300 * 2**20


@dataclass(frozen=True)
class Estimate:
    stage: str
    tasks: int
    memory_per_task: int  # bytes, peak resident per task
    disk: int  # bytes written by the stage that stay until the run ends

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "tasks": self.tasks,
            "memory_per_task": self.memory_per_task,
            "disk": self.disk,
        }


@dataclass(frozen=True)
class Plan:
    docs: int
    text_bytes: int
    stages: list[Estimate]
    workers: int

    @property
    def peak_memory(self) -> int:
        return max((e.memory_per_task * min(self.workers, e.tasks) for e in self.stages), default=0)

    @property
    def disk(self) -> int:
        return sum(e.disk for e in self.stages)


# bytes of record per byte on disk, for a sample that did not reach the end of its file
COMPRESSION = {".gz": 3.5, ".zst": 4.0, ".bz2": 4.0, ".xz": 4.0, ".parquet": 3.0}


def sample_input(pipeline: Any) -> tuple[int, int]:
    """(estimated documents, estimated text bytes) of the whole input, from its first file.

    When the sample reads the whole first file, documents scale with bytes on disk exactly;
    otherwise the sample's bytes per document and a typical compression ratio for the file's
    extension (``COMPRESSION``: text compresses 3.5-4x) give documents per byte on disk.
    """
    files = [f for s in pipeline.plan_shards() for f in s.files]
    total_disk = sum(f.bytes for f in files)
    first = files[0]
    icfg = pipeline.config.input[first.input_index]
    opts = ReadOptions(
        text_field=icfg.text_field, id_field=icfg.id_field, batch_size=SAMPLE_DOCS, root=first.root
    )
    batch = next(iter(readers[first.format](first.path, opts, BadRecords(quarantine=True))), None)
    if batch is None or batch.num_rows == 0 or total_disk == 0:
        return 0, 0
    docs = batch.num_rows
    import pyarrow.compute as pc

    per_doc = (pc.sum(pc.binary_length(batch["text"])).as_py() or 0) / docs
    if docs < SAMPLE_DOCS and first.format != "warc":  # the whole first file
        docs_per_disk_byte = docs / max(1, first.bytes)
    else:
        ratio = next((r for ext, r in COMPRESSION.items() if first.path.endswith(ext)), 1.0)
        docs_per_disk_byte = ratio / (per_doc * 1.1 + 50)  # record overhead: JSON keys, metadata
    est_docs = max(docs, int(docs_per_disk_byte * total_disk))
    return est_docs, int(est_docs * per_doc)


def estimate(pipeline: Any, *, workers: int) -> Plan:
    cfg = pipeline.config
    docs, text_bytes = sample_input(pipeline)
    shards = max(1, len(pipeline.plan_shards()))
    per_doc = text_bytes / docs if docs else 0
    batch_text = min(cfg.batch_size * per_doc, 64 * 2**20)
    stages: list[Estimate] = []
    map_mem = int(WORKER_BASE + MAP_FACTOR * batch_text)
    k = 0
    for spec in cfg.steps:
        step = spec.step()
        if step.kind != "global":
            continue
        stages.append(Estimate(f"map {k}", shards, map_mem, int(text_bytes * 0.5)))
        k += 1
        est = getattr(step, "estimate", None)
        if est is not None:
            stages.extend(est(spec.parsed(), docs=docs, text_bytes=text_bytes, shards=shards))
    stages.append(Estimate(f"map {k} (output)", shards, map_mem, int(text_bytes * 0.5)))
    return Plan(docs, text_bytes, stages, workers)


def check_fits(plan: Plan, output: str) -> None:
    """Raise UserError, with the estimate, when the run will not fit in memory or on disk."""
    import psutil

    mem = psutil.virtual_memory().total
    folder = output
    while folder and not os.path.exists(folder):
        folder = os.path.dirname(folder.rstrip("/"))
    free = shutil.disk_usage(folder or ".").free
    problems = []
    if plan.peak_memory > mem:
        problems.append(f"peak memory {human(plan.peak_memory)} > {human(mem)} of RAM")
    if plan.disk > free:
        problems.append(f"disk {human(plan.disk)} > {human(free)} free under {folder or '.'}")
    if problems:
        raise UserError(
            "This run will not fit: "
            + "; ".join(problems)
            + ".\n"
            + format_plan(plan)
            + "\nUse fewer workers, a smaller batch_size, a per-source `scope`, or run it on a bigger machine "
            "or a Ray cluster; `--force` runs it anyway."
        )


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def format_plan(plan: Plan) -> str:
    lines = [
        f"Estimated input: {plan.docs:,} documents, {human(plan.text_bytes)} of text; {plan.workers} workers.",
        f"{'stage':<34} {'tasks':>6} {'memory/task':>12} {'peak memory':>12} {'disk':>10}",
    ]
    for e in plan.stages:
        lines.append(
            f"{e.stage:<34} {e.tasks:>6} {human(e.memory_per_task):>12} "
            f"{human(e.memory_per_task * min(plan.workers, e.tasks)):>12} {human(e.disk):>10}"
        )
    lines.append(f"{'whole run':<34} {'':>6} {'':>12} {human(plan.peak_memory):>12} {human(plan.disk):>10}")
    return "\n".join(lines)
