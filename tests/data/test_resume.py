"""A run killed with SIGKILL mid-way resumes, skipping finished shards, and its output equals that of an
uninterrupted run — also when the rerun uses another number of workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from gencommons.lineage.manifest import read_manifest

pytestmark = pytest.mark.slow

N_FILES = 24  # the many_shards fixture


def _pipeline(inputs: Path, out: Path, workers: int) -> dict:
    return {
        "input": {"path": str(inputs)},
        "steps": [{"length": {"min_words": 30}}, "exact_dedup", {"length": {"max_chars": 4000}}],
        "output": {"path": str(out), "shard_size": "200KB"},
        "executor": {"kind": "local", "workers": workers},
        "task_size": 1,  # one input file per task
        "batch_size": 4,  # many small batches: a run lasts long enough to be killed mid-way
    }


def _run(cfg_path: Path, *, wait: bool = True) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "gencommons.cli", "data", "run", str(cfg_path)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    if wait:
        p.wait(timeout=300)
    return p


def _done(folder: Path) -> int:
    return len(list(folder.glob("*.json"))) if folder.is_dir() else 0


def _outputs(out: Path) -> list[tuple[str, list[str]]]:
    m = read_manifest(str(out))
    return [(f["path"], pq.read_table(out / f["path"], columns=["id"])["id"].to_pylist()) for f in m["files"]]


@pytest.mark.parametrize(("first_workers", "second_workers"), [(1, 2), (2, 1)])
def test_kill9_then_resume_equals_clean_run(
    many_shards: Path, tmp_path: Path, first_workers: int, second_workers: int
) -> None:
    inputs = many_shards

    clean_cfg = tmp_path / "clean.yaml"
    clean_cfg.write_text(yaml.safe_dump(_pipeline(inputs, tmp_path / "clean", 2)))
    assert _run(clean_cfg).returncode == 0

    killed_out = tmp_path / "killed"
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump(_pipeline(inputs, killed_out, first_workers)))
    proc = _run(cfg, wait=False)
    done_dir = killed_out / ".gencommons" / "done"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if _done(done_dir) >= N_FILES // 3:
            break
        assert proc.poll() is None, "the run finished before it could be killed; make it longer"
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and every worker process, no cleanup
    proc.wait()
    finished_before = _done(done_dir)
    assert finished_before > 0
    assert not (killed_out / "manifest.json").exists()

    cfg.write_text(yaml.safe_dump(_pipeline(inputs, killed_out, second_workers)))
    rerun = _run(cfg)
    log = rerun.stdout.read().decode() if rerun.stdout else ""
    assert rerun.returncode == 0, log
    assert f"Resumed: {finished_before} finished tasks" in log

    assert _outputs(killed_out) == _outputs(tmp_path / "clean")
    a, b = read_manifest(str(killed_out)), read_manifest(str(tmp_path / "clean"))
    assert a["content_id"] == b["content_id"]
    assert a["counts"] == b["counts"]
    assert [(s["docs_in"], s["docs_out"], s["dropped"]) for s in a["steps"]] == [
        (s["docs_in"], s["docs_out"], s["dropped"]) for s in b["steps"]
    ]
    ids = [i for _, chunk in _outputs(killed_out) for i in chunk]
    assert len(ids) == len(set(ids))  # no duplicates, and (content id above) nothing missing
