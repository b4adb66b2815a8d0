"""``dedup/spool.py``: a global step's per-batch tables, gathered into fewer files."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gencommons.data.dedup import spool
from gencommons.data.pipeline import Pipeline


def _t(*rows: int) -> pa.Table:
    return pa.table({"doc": pa.array(rows, pa.uint64())})


def _files(folder: Path) -> dict[str, list[int]]:
    return {f.name: pq.read_table(f).column("doc").to_pylist() for f in sorted(folder.glob("*.parquet"))}


def test_batches_gather_into_one_file_named_after_the_first(tmp_path: Path) -> None:
    sig = str(tmp_path / "sig")
    for part, rows in enumerate([(0, 1), (2,), (3, 4, 5)]):
        spool.add(sig, 3, part + 4, _t(*rows))
    assert not (tmp_path / "sig").exists()  # nothing written before the task ends
    spool.flush(str(tmp_path), 3)
    assert _files(tmp_path / "sig") == {"s00003-p000004.parquet": [0, 1, 2, 3, 4, 5]}
    assert not list((tmp_path / "sig").glob("*.tmp"))


def test_a_file_is_written_once_pending_reaches_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool, "SPOOL_BYTES", _t(0, 1).nbytes + 1)
    sig = str(tmp_path / "sig")
    for part in range(5):
        spool.add(sig, 0, part, _t(part))
    assert _files(tmp_path / "sig") == {"s00000-p000000.parquet": [0, 1, 2]}
    spool.flush(str(tmp_path), 0)
    assert _files(tmp_path / "sig") == {"s00000-p000000.parquet": [0, 1, 2], "s00000-p000003.parquet": [3, 4]}


def test_a_task_started_again_drops_what_its_earlier_try_left_pending(tmp_path: Path) -> None:
    sig = str(tmp_path / "sig")
    spool.add(sig, 1, 0, _t(10))
    spool.add(sig, 1, 1, _t(11))  # the task dies here; it starts again at part 0
    spool.add(sig, 1, 0, _t(20))
    spool.flush(str(tmp_path), 1)
    assert _files(tmp_path / "sig") == {"s00001-p000000.parquet": [20]}


def test_flush_writes_only_that_shard_under_that_folder(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "ab"  # "ab" shares a prefix with "a" but is not below it
    spool.add(str(a / "sig"), 0, 0, _t(1))
    spool.add(str(a / "docs"), 0, 0, _t(2))
    spool.add(str(a / "sig"), 1, 0, _t(3))
    spool.add(str(b / "sig"), 0, 0, _t(4))
    spool.flush(str(a), 0)
    assert _files(a / "sig") == {"s00000-p000000.parquet": [1]}
    assert _files(a / "docs") == {"s00000-p000000.parquet": [2]}
    assert not (b / "sig").exists()
    spool.flush(str(a), 1)
    spool.flush(str(b), 0)
    assert _files(a / "sig")["s00001-p000000.parquet"] == [3]
    assert _files(b / "sig") == {"s00000-p000000.parquet": [4]}


def test_file_per_batch_or_per_task_gives_the_same_result(
    tmp_path: Path, corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MinHash and exact dedup keep the same documents whether every batch gets its own files or a
    task's batches share them (in-process run, so the limit applies)."""

    def run(out: str) -> list[str]:
        cfg: dict[str, object] = {
            "input": {"path": str(corpus_dir / "*.jsonl.gz")},
            "steps": ["exact_dedup", {"minhash_dedup": {"threshold": 0.5}}],
            "output": {"path": str(tmp_path / out)},
            "executor": {"workers": 1},
            "batch_size": 23,
        }
        steps = Pipeline.from_dict(cfg).run().manifest["steps"]
        assert all(s["docs_out"] < s["docs_in"] for s in steps)  # both steps drop documents here
        return pq.read_table(tmp_path / out / "data").column("id").to_pylist()

    gathered = run("gathered")
    monkeypatch.setattr(spool, "SPOOL_BYTES", 1)
    per_batch = run("per_batch")
    assert gathered == per_batch
