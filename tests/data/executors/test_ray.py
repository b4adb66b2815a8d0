"""The Ray executor on a real local Ray cluster gives the same output as the local executor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from gencommons.data.pipeline import Pipeline
from gencommons.errors import InputDataError

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray")


def _cfg(corpus_dir: Path, out: Path, kind: str, workers: int) -> dict[str, Any]:
    return {
        "input": {"path": str(corpus_dir)},
        "steps": [{"length": {"min_words": 40}}, "exact_dedup", {"length": {"max_chars": 5000}}],
        "output": {"path": str(out), "shard_size": "64KB"},
        "executor": {"kind": kind, "workers": workers},
        "task_size": 1,  # one input file per task
        "batch_size": 50,
    }


def _rows(out: Path, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for f in manifest["files"] for r in pq.read_table(out / f["path"]).to_pylist()]


def test_ray_and_local_outputs_are_identical(ray_cluster: None, many_shards: Path, tmp_path: Path) -> None:
    local = Pipeline.from_dict(_cfg(many_shards, tmp_path / "local", "local", 2)).run().manifest
    on_ray = Pipeline.from_dict(_cfg(many_shards, tmp_path / "ray", "ray", 2)).run().manifest
    assert local["counts"]["shards"] == 24
    assert ray.is_initialized()
    assert on_ray["content_id"] == local["content_id"]
    assert [f["path"] for f in on_ray["files"]] == [f["path"] for f in local["files"]]
    assert _rows(tmp_path / "ray", on_ray) == _rows(tmp_path / "local", local)
    assert [s["dropped"] for s in on_ray["steps"]] == [s["dropped"] for s in local["steps"]]
    assert on_ray["config"]["executor"]["kind"] == "ray"


def test_ray_task_error_reaches_the_user(ray_cluster: None, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"text": 1}\n', encoding="utf-8")
    cfg = {
        "input": {"path": str(bad)},
        "output": {"path": str(tmp_path / "out")},
        "executor": {"kind": "ray"},
    }
    with pytest.raises(InputDataError, match=r"bad\.jsonl:2: field 'text' is int"):
        Pipeline.from_dict(cfg).run()


@pytest.mark.parametrize("step", ["substring_dedup", {"minhash_dedup": {"verify": True}}])
def test_ray_runs_every_dedup_stage_like_local(
    ray_cluster: None, many_shards: Path, tmp_path: Path, step: Any
) -> None:
    base = {"input": {"path": str(many_shards)}, "steps": [step], "task_size": 1, "batch_size": 200}
    outs = {}
    for kind in ("local", "ray"):
        cfg = {**base, "output": {"path": str(tmp_path / kind)}, "executor": {"kind": kind, "workers": 2}}
        outs[kind] = Pipeline.from_dict(cfg).run().manifest
    assert outs["ray"]["content_id"] == outs["local"]["content_id"]
    assert outs["ray"]["steps"][0]["dropped"] == outs["local"]["steps"][0]["dropped"]
    assert outs["ray"]["steps"][0]["counts"] == outs["local"]["steps"][0]["counts"]


def test_ray_workers_get_the_drivers_allocator_setting(ray_cluster: None) -> None:
    """Importing gencommons sets MIMALLOC_PURGE_DELAY (src/gencommons/__init__.py); the workers of a
    cluster the driver starts inherit it, so their Arrow allocator hands memory back as the driver's does."""
    import os

    import gencommons  # noqa: F401 - sets the variable

    @ray.remote
    def purge_delay() -> str | None:
        return os.environ.get("MIMALLOC_PURGE_DELAY")

    assert os.environ["MIMALLOC_PURGE_DELAY"]
    assert ray.get(purge_delay.remote()) == os.environ["MIMALLOC_PURGE_DELAY"]
