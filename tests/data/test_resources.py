"""The resource plan: document counts from the input's bytes, and task memory against a measured run."""

from __future__ import annotations

import bz2
import gzip
import itertools
import json
import lzma
import random
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gencommons.data import resources
from gencommons.data.pipeline import Pipeline
from gencommons.data.resources import estimate, records_per_disk_byte

COMPRESS = {
    "": lambda b: b,
    ".gz": gzip.compress,
    ".zst": lambda b: zstandard.ZstdCompressor().compress(b),
    ".bz2": bz2.compress,
    ".xz": lzma.compress,
}


def _jsonl(
    records: list[dict[str, Any]],
    *,
    trailing_newline: bool = True,
    blanks: list[bytes] | None = None,
    tail: bytes = b"",
) -> bytes:
    """JSON Lines; ``blanks[i]`` (blank or whitespace lines, the reader skips them) before record i,
    ``tail`` after the last."""
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in records]
    if blanks:
        lines = [blanks[i % len(blanks)] + line for i, line in enumerate(lines)]
    return b"\n".join(lines) + (b"\n" if trailing_newline and records else b"") + tail


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    texts=st.lists(st.text(min_size=0, max_size=200), min_size=1, max_size=60),
    ext=st.sampled_from(sorted(COMPRESS)),
    members=st.integers(1, 3),
    trailing_newline=st.booleans(),
    blanks=st.lists(st.lists(st.sampled_from([b"", b" ", b"\t", b"\r", b"  \r"]), max_size=3), max_size=4),
    tail=st.sampled_from([b"", b"\n", b" ", b" \n\n", b"\t\r\n "]),
)
def test_records_per_disk_byte_counts_every_record(
    tmp_path: Path,
    texts: list[str],
    ext: str,
    members: int,
    trailing_newline: bool,
    blanks: list[list[bytes]],
    tail: bytes,
) -> None:
    """A file under the prefix is counted exactly: any compression, several gzip members or zstd
    frames, texts holding newlines (escaped in JSON), blank and whitespace lines between records (not
    records: the reader skips them), and a last line without a newline."""
    gaps = [b"".join(w + b"\n" for w in gap) for gap in blanks]
    records = [{"id": str(i), "text": t} for i, t in enumerate(texts)]
    cut = [len(records) * k // members for k in range(members + 1)]
    parts = [records[a:b] for a, b in itertools.pairwise(cut)]
    path = tmp_path / f"in.jsonl{ext}"
    if ext in (".gz", ".zst"):  # concatenated members / frames, each a valid stream
        data = b"".join(
            COMPRESS[ext](
                _jsonl(
                    p,
                    trailing_newline=trailing_newline or i < len(parts) - 1,
                    blanks=gaps,
                    tail=tail if i == len(parts) - 1 else b"",
                )
            )
            for i, p in enumerate(parts)
            if p
        )
    else:
        data = COMPRESS[ext](_jsonl(records, trailing_newline=trailing_newline, blanks=gaps, tail=tail))
    path.write_bytes(data)
    assert round(records_per_disk_byte(str(path)) * len(data)) == len(records)


def test_records_per_disk_byte_from_a_prefix(tmp_path: Path) -> None:
    """A file larger than the prefix: the rate of its first bytes, which holds for similar records."""
    rng = random.Random(0)
    records = [
        {"id": str(i), "text": " ".join(f"{rng.getrandbits(32):08x}" for _ in range(rng.randint(10, 50)))}
        for i in range(15_000)
    ]
    data = gzip.compress(_jsonl(records))
    path = tmp_path / "big.jsonl.gz"
    path.write_bytes(data)
    assert len(data) > 2 * 2**20  # more than the 1 MB read below
    est = records_per_disk_byte(str(path), prefix=2**20) * len(data)
    assert est != len(records)  # estimated, not counted
    assert abs(est - len(records)) < 0.1 * len(records)


@pytest.mark.parametrize("ext", [".gz", ".zst", ".xz"])
def test_records_per_disk_byte_of_a_cut_file(tmp_path: Path, ext: str) -> None:
    """A truncated file gives the rate of what decoded before the cut, not an error (the run itself
    reports the cut, naming the file and line). Not bz2: it decodes whole 900 kB blocks, so the bytes
    of a cut block count with no records (a lower rate, still no error)."""
    rng = random.Random(1)
    records = [{"id": str(i), "text": f"{rng.getrandbits(64):016x} " * 20} for i in range(5_000)]
    data = COMPRESS[ext](_jsonl(records))
    path = tmp_path / f"cut.jsonl{ext}"
    path.write_bytes(data[: len(data) * 3 // 4])
    rate = records_per_disk_byte(str(path))
    assert abs(rate * len(data) - len(records)) < 0.1 * len(records)


def test_plan_counts_documents_per_input(corpus_dir: Path, tmp_path: Path) -> None:
    """Two JSONL sources of different document sizes, and a Parquet input: counts near exact."""
    inputs = [str(corpus_dir / "gutenberg.jsonl.gz"), str(corpus_dir / "debian-man.jsonl.gz")]
    n = 0
    for f in inputs:
        with gzip.open(f) as fh:
            n += sum(1 for _ in fh)
    cfg = {"input": [{"path": p} for p in inputs], "output": {"path": str(tmp_path / "o")}}
    assert Pipeline.from_dict(cfg).resource_plan(workers=1).docs == n

    folder = tmp_path / "pq"
    folder.mkdir()
    sizes = [1, 700, 2_500]  # the first file's 2,000-document sample does not see the others
    for i, size in enumerate(sizes):
        pq.write_table(
            pa.table({"id": [f"{i}-{k}" for k in range(size)], "text": ["x" * 40] * size}),
            folder / f"{i}.parquet",
        )
    cfg = {
        "input": {"path": str(folder / "*.parquet"), "format": "parquet"},
        "output": {"path": str(tmp_path / "p")},
    }
    assert Pipeline.from_dict(cfg).resource_plan(workers=1).docs == sum(sizes)


def test_driver_counts_when_workers_are_processes(corpus_dir: Path, tmp_path: Path) -> None:
    cfg = {"input": {"path": str(corpus_dir / "gutenberg.jsonl.gz")}, "output": {"path": str(tmp_path / "o")}}
    one = estimate(Pipeline.from_dict(cfg), workers=1)
    two = estimate(Pipeline.from_dict(cfg), workers=2)
    task = max(e.memory_per_task for e in one.stages)
    assert one.peak_memory == task
    # a single shard keeps one worker busy: the driver rests beside it, with the resource tracker
    assert two.peak_memory == task + resources.HELPERS + resources.DRIVER_BASE


def test_the_driver_is_one_of_the_workers_of_a_busy_stage() -> None:
    """With as many tasks as workers, the driver runs one of them (executors/local.py): the stage
    costs its tasks and the resource tracker, no resting driver."""
    busy = resources.Estimate("map", tasks=8, memory_per_task=100, disk=0)
    alone = resources.Estimate("clusters", tasks=1, memory_per_task=300, disk=0)
    plan = resources.Plan(docs=1, text_bytes=1, stages=[busy], workers=3)
    assert plan.peak_memory == resources.HELPERS + 3 * 100
    plan = resources.Plan(docs=1, text_bytes=1, stages=[busy, alone], workers=3)
    assert plan.peak_memory == resources.HELPERS + resources.DRIVER_BASE + 300
    assert resources.Plan(docs=1, text_bytes=1, stages=[busy], workers=1).peak_memory == 100


_MEASURE = textwrap.dedent(
    """
    import json, sys
    from gencommons.data.pipeline import Pipeline

    pipe = Pipeline.from_dict(json.loads(sys.argv[1]))
    plan = pipe.resource_plan(workers=1)
    pipe.run()
    hwm = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM"))
    print(json.dumps({"plan": plan.peak_memory, "measured": hwm}))
    """
)


@pytest.mark.parametrize("steps", [["minhash_dedup"], ["gopher_quality", "exact_dedup"]])
def test_plan_is_close_to_the_measured_peak(corpus_dir: Path, tmp_path: Path, steps: list[str]) -> None:
    """The plan's peak against the peak resident memory of the same run in a fresh process: not
    below it (the check that refuses runs relies on it), and not far above (it would refuse runs that
    fit)."""
    cfg = {
        "input": [
            {"path": str(corpus_dir / "gutenberg.jsonl.gz")},
            {"path": str(corpus_dir / "debian-man.jsonl.gz")},
        ],
        "steps": steps,
        "output": {"path": str(tmp_path / "out")},
        "executor": {"kind": "local", "workers": 1},
    }
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, json.dumps(cfg)], capture_output=True, text=True, check=True
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    # (0.9: resident shared-library pages vary with the page cache, by up to ~40 MB)
    assert 0.9 * got["measured"] <= got["plan"] <= 2.0 * got["measured"], got


def test_physical_memory_is_what_psutil_reports() -> None:
    import psutil

    from gencommons.data.resources import physical_memory

    assert physical_memory() == psutil.virtual_memory().total
