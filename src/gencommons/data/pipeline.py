"""A pipeline is config + engine: plan shards and stages, run them on an executor, commit, write the
manifest.

```python
from gencommons.data.pipeline import Pipeline

if __name__ == "__main__":  # worker processes re-import the main module
    result = Pipeline.from_yaml("examples/demo.yaml").run()
    print(result.manifest["counts"])
```

The engine in four moves:

1. **Plan.** Input paths expand (``io/files.py``) to files in sorted order; consecutive small files group into
   shards of up to ``task_size`` (16 MB, or 1/16 of the whole input if that is smaller, so that a small
   corpus still makes several shards), a big file is a shard of its own. Shards do not depend on the number of
   workers, so a rerun with other workers resumes the same work and writes the same files.
2. **Stages.** Steps split at each global step (dedup): map stage 0 runs the steps before the first
   global step and saves its signatures; the global step's reduce stages run as parallel tasks; the
   next map stage applies its decisions and the following steps; and so on. The last map stage writes
   the output.
3. **Run.** Every task leaves a completion record (``workdir.py``); finished tasks are skipped.
4. **Commit.** Only when every task is done do files move from ``<output>/.gencommons/final`` into
   ``<output>/`` (schemas unified so that ``datasets.load_dataset("parquet", ...)`` reads them as one
   table), then ``manifest.json`` is written last. A failed run leaves no output files, only the
   resumable work folder.
"""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from gencommons.data.config import PipelineConfig
from gencommons.data.executors import NullProgress, Progress, executors
from gencommons.data.io.files import filesystem
from gencommons.data.io.parquet import read_file
from gencommons.data.io.reading import EXTENSIONS, detect_format
from gencommons.data.io.writing import conform
from gencommons.data.runner import InputFile, MapTask, ReduceTask, Shard, release_memory
from gencommons.data.step import StepCounts
from gencommons.data.workdir import Workdir
from gencommons.errors import ConfigError, OutputConflictError
from gencommons.lineage.atomic import read_json, write_json_atomic
from gencommons.lineage.hashing import config_hash, content_id, file_sha256
from gencommons.lineage.manifest import MANIFEST, new_manifest, read_manifest, write_manifest

WORKDIR = ".gencommons"
# documents go to <output>/data/, beside manifest.json, rejected/ and quarantine/, so that reading the
# folder <output>/data with pyarrow, polars or pandas never mixes in rejected rows or the manifest
DATA_DIR = "data"
SHARD_FILES = 256  # at most this many files in one shard
MIN_SHARDS = 16


@dataclass
class RunResult:
    output: str
    manifest: dict[str, Any]
    resumed_tasks: int
    already_complete: bool = False


class Pipeline:
    """A validated pipeline config and the engine that runs it."""

    def __init__(self, config: PipelineConfig):
        self.config = config

    @classmethod
    def from_yaml(cls, path: str) -> Pipeline:
        return cls(PipelineConfig.from_yaml(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pipeline:
        return cls(PipelineConfig.from_dict(data))

    # ------------------------------------------------------------------ planning

    @property
    def output(self) -> str:
        path = self.config.output.path
        return path.removeprefix("file://")

    def fingerprint(self) -> tuple[str, dict[str, Any]]:
        """The config hash that decides whether existing work may be resumed (executor excluded)."""
        resolved = self.config.resolved()
        keyed = {k: v for k, v in resolved.items() if k != "executor"}
        return config_hash(keyed), resolved

    def plan_shards(self) -> list[Shard]:
        from gencommons.data.config import parse_size

        limit = parse_size(self.config.task_size)
        files: list[InputFile] = []
        for i, icfg in enumerate(self.config.input):
            paths = icfg.path if isinstance(icfg.path, list) else [icfg.path]
            for j, p in enumerate(paths):
                key = f"input[{i}].path" + (f"[{j}]" if isinstance(icfg.path, list) else "")
                files.extend(_expand(p, icfg.format, i, key))
        # aim for at least MIN_SHARDS shards when there are enough files, so that a small corpus still
        # uses every worker; this depends on the files only, never on the number of workers
        limit = max(1, min(limit, sum(f.bytes for f in files) // MIN_SHARDS))
        shards: list[Shard] = []
        group: list[InputFile] = []
        size = 0
        for f in files:
            if group and (size + f.bytes > limit or len(group) >= SHARD_FILES):
                shards.append(Shard(len(shards), tuple(group)))
                group, size = [], 0
            group.append(f)
            size += f.bytes
        if group:
            shards.append(Shard(len(shards), tuple(group)))
        return shards

    def plan(self, shards: list[Shard], workdir: str) -> list[list[Any]]:
        """The stages: lists of tasks; each list runs after the previous one completed."""
        specs = self.config.steps
        global_at = [i for i, s in enumerate(specs) if s.step().kind == "global"]
        bounds = [-1, *global_at, len(specs)]
        stages: list[list[Any]] = []
        for k in range(len(bounds) - 1):
            apply_g = bounds[k] if bounds[k] >= 0 else None
            start = bounds[k] + 1
            stop = bounds[k + 1]
            save_g = stop if stop < len(specs) else None
            final = save_g is None
            stages.append(
                [MapTask(self.config, workdir, k, sh, start, stop, apply_g, save_g, final) for sh in shards]
            )
            if save_g is not None:
                step, p = specs[save_g].step(), specs[save_g].parsed()
                for r, rstage in enumerate(step.reduce_stages):
                    stages.append(
                        [
                            ReduceTask(self.config, workdir, save_g, r, t, len(shards))
                            for t in range(rstage.tasks(p, len(shards)))
                        ]
                    )
        return stages

    # ------------------------------------------------------------------ running

    def resource_plan(self, *, workers: int | None = None) -> Any:
        """Memory and disk each stage will need, estimated from a sample of the input (``resources.py``)."""
        from gencommons.data.executors import default_workers
        from gencommons.data.resources import estimate

        return estimate(self, workers=workers or self.config.executor.workers or default_workers())

    def run(
        self,
        *,
        overwrite: bool = False,
        force: bool = False,
        workers: int | None = None,
        progress: Progress | None = None,
        on_stage: Callable[[str, int, int], None] | None = None,
    ) -> RunResult:
        """Run (or resume) the pipeline and return the output's manifest.

        Args:
            overwrite: discard any previous output or unfinished work in the output folder.
            force: run even when the resource plan says it will not fit in memory or on disk.
            workers: override ``executor.workers``.
            progress: receives document counts and task completions (the CLI draws a progress bar).
            on_stage: called with (stage name, tasks to run, tasks already done) before each stage.
        """
        progress = progress or NullProgress()
        out = self.output
        wd = Workdir(os.path.join(out, WORKDIR))
        fp, resolved = self.fingerprint()
        if overwrite and os.path.isdir(out):
            shutil.rmtree(out)
        done_result = self._check_output(out, wd, fp)
        if done_result is not None:
            return done_result
        shards = self.plan_shards()
        if not force and not os.path.exists(wd.path("run.json")):
            from gencommons.data.resources import check_fits

            check_fits(self.resource_plan(workers=workers), out)
            release_memory()  # the plan's sample batch: the driver stays resident while workers run
        os.makedirs(wd.root, exist_ok=True)
        if not os.path.exists(wd.path("run.json")):
            write_json_atomic(wd.path("run.json"), {"config_hash": fp, "config": resolved})
        execute = executors[self.config.executor.kind]
        n_workers = workers or self.config.executor.workers
        try:
            records, resumed = self._run_stages(wd, shards, execute, n_workers, progress, on_stage)
        finally:
            close = getattr(execute, "close", None)  # e.g. the local executor's process pool
            if close is not None:
                close()
        manifest = self._commit(
            out, wd, lambda: self._prepare_commit(out, wd, fp, resolved, records, len(shards))
        )
        return RunResult(out, manifest, resumed)

    def _run_stages(
        self,
        wd: Workdir,
        shards: list[Shard],
        execute: Any,
        n_workers: int | None,
        progress: Progress,
        on_stage: Callable[[str, int, int], None] | None,
    ) -> tuple[list[dict[str, Any]], int]:
        records: list[dict[str, Any]] = []
        resumed = 0
        if not os.path.exists(wd.path("commit.json")):
            for si, tasks in enumerate(self.plan(shards, wd.root)):
                todo = [t for t in tasks if not wd.is_done(t.key)]
                finished = [read_json(wd.done_path(t.key)) for t in tasks if wd.is_done(t.key)]
                resumed += len(finished)
                for rec in finished:
                    progress.task_done(rec)
                if on_stage:
                    on_stage(
                        _stage_name(tasks[0], self.config) if tasks else f"stage {si}",
                        len(todo),
                        len(finished),
                    )
                fresh = (
                    execute(todo, workers=n_workers, address=self.config.executor.address, progress=progress)
                    if todo
                    else []
                )
                records.extend(finished + fresh)
        else:
            records = [
                read_json(p) for p in sorted(glob.glob(os.path.join(glob.escape(wd.path("done")), "*.json")))
            ]
        return records, resumed

    def _check_output(self, out: str, wd: Workdir, fp: str) -> RunResult | None:
        """Refuse to mix outputs of different configs; report a finished identical run."""
        man_path = os.path.join(out, MANIFEST)
        if os.path.exists(man_path) and not os.path.exists(wd.path("commit.json")):
            man = read_manifest(man_path)
            if man.get("config_hash") == fp:
                return RunResult(out, man, 0, already_complete=True)
            raise OutputConflictError(
                f"{out} already holds a dataset made with a different config "
                f"({_diff_keys(man.get('config', {}), self.fingerprint()[1])} changed). "
                "Write to another output path, or rerun with --overwrite to replace it."
            )
        run_json = wd.path("run.json")
        if os.path.exists(run_json):
            prev = read_json(run_json)
            if prev.get("config_hash") != fp:
                raise OutputConflictError(
                    f"{out} holds unfinished work of a different config "
                    f"({_diff_keys(prev.get('config', {}), self.fingerprint()[1])} changed), so it cannot be "
                    "resumed with this one. Rerun with --overwrite to discard it, or use another output path."
                )
        elif os.path.isdir(out) and os.listdir(out):
            raise OutputConflictError(
                f"{out} exists and is not empty, and is not a gencommons output. "
                "Choose an empty or new folder, or rerun with --overwrite to replace its contents."
            )
        return None

    # ------------------------------------------------------------------ commit

    @staticmethod
    def _commit(out: str, wd: Workdir, prepare: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Move the files into ``out`` and write the manifest last; ``commit.json`` records the plan
        first, so that a commit interrupted half-way finishes on rerun."""
        commit_path = wd.path("commit.json")
        if os.path.exists(commit_path):
            plan = read_json(commit_path)
        else:
            plan = prepare()
            write_json_atomic(commit_path, plan)
        for src, dst in plan["moves"]:
            if os.path.exists(src):
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                os.replace(src, dst)
        manifest: dict[str, Any] = plan["manifest"]
        write_manifest(out, manifest)
        wd.clear()
        return manifest

    def _prepare_commit(
        self,
        out: str,
        wd: Workdir,
        fp: str,
        resolved: dict[str, Any],
        records: list[dict[str, Any]],
        n_shards: int,
    ) -> dict[str, Any]:
        cfg = self.config
        last_stage = max(r["stage"] for r in records if "shard" in r)
        final_maps = sorted(
            (r for r in records if "shard" in r and r["stage"] == last_stage), key=lambda r: r["shard"]
        )
        first_maps = sorted((r for r in records if r.get("stage") == 0), key=lambda r: r["shard"])
        out_files = [wd.path("final", f) for r in final_maps for f in r["files"]]
        rej_files = sorted(glob.glob(os.path.join(glob.escape(wd.rejected_dir()), "*.parquet")))
        if cfg.output.format == "parquet":
            _unify_parquet(out_files)
        _unify_parquet(rej_files)
        moves: list[tuple[str, str]] = []
        files_info: list[dict[str, Any]] = []
        for f in out_files:
            name = f"{DATA_DIR}/{os.path.basename(f)}"
            files_info.append({"path": name, "sha256": file_sha256(f), "bytes": os.path.getsize(f)})
            moves.append((f, os.path.join(out, name)))
        for f in rej_files:
            moves.append((f, os.path.join(out, "rejected", os.path.basename(f))))
        for f in sorted(glob.glob(os.path.join(glob.escape(wd.quarantine_dir()), "*.jsonl"))):
            moves.append((f, os.path.join(out, "quarantine", os.path.basename(f))))
        for i, spec in enumerate(cfg.steps):  # what global steps leave for the user (cluster tables, reports)
            keep_dir = os.path.join(wd.path(f"global-{i}"), "keep")
            for f in sorted(glob.glob(os.path.join(glob.escape(keep_dir), "*"))):
                moves.append((f, os.path.join(out, "steps", spec.name, os.path.basename(f))))

        counts: dict[int, StepCounts] = {}
        lic_in: dict[str, int] = {}
        lic_out: dict[str, int] = {}
        for r in records:
            for k, c in r.get("counts", {}).items():
                counts.setdefault(int(k), StepCounts()).add(StepCounts.from_dict(c))
        for r in first_maps:
            for k, v in r["licenses_in"].items():
                lic_in[k] = lic_in.get(k, 0) + v
        for r in final_maps:
            for k, v in r["licenses_out"].items():
                lic_out[k] = lic_out.get(k, 0) + v
        steps_info = []
        for i, spec in enumerate(cfg.steps):
            c = counts.get(i, StepCounts())
            kind = spec.step().kind
            mode = "map" if kind == "mapper" else spec.mode
            steps_info.append({"name": spec.name, "mode": mode, "kind": kind, **c.to_dict()})
        docs_in = sum(r["docs_read"] for r in first_maps)
        docs_out = sum(r["rows_out"] for r in final_maps)
        quarantined = sum(r.get("quarantined", 0) for r in first_maps)
        skipped: dict[str, int] = {}
        for r in first_maps:
            for k, v in r.get("skipped", {}).items():
                skipped[k] = skipped.get(k, 0) + v
        rejected_rows = sum(pq.ParquetFile(f).metadata.num_rows for f in rej_files)
        inputs = [i for r in first_maps for i in r["inputs"]]
        manifest = new_manifest(
            "dataset",
            content_id=content_id((str(f["path"]), str(f["sha256"])) for f in files_info),
            config_hash=fp,
            config=resolved,
            inputs=inputs,
            format=cfg.output.format,
            files=files_info,
            counts={
                "documents_in": docs_in,
                "documents_out": docs_out,
                "rejected": rejected_rows,
                "quarantined": quarantined,
                "shards": n_shards,
            },
            skipped_by_reader=dict(sorted(skipped.items())),
            steps=steps_info,
            licenses={
                "inputs": dict(sorted(lic_in.items())),
                "output": dict(sorted(lic_out.items())),
                "result": result_license(lic_out),
            },
        )
        return {"moves": moves, "manifest": manifest}


def result_license(counts: dict[str, int]) -> str:
    """The licence expression of a collection: its members' licences joined with AND.

    Example:
        >>> result_license({"MIT": 3, "CC-BY-4.0": 1})
        'CC-BY-4.0 AND MIT'
    """
    ids = sorted(k for k, v in counts.items() if v > 0)
    if not ids:
        return "NOASSERTION"
    return ids[0] if len(ids) == 1 else " AND ".join(f"({i})" if " " in i else i for i in ids)


def _stage_name(task: Any, cfg: PipelineConfig) -> str:
    """A short label for the progress bar: ``map 0 · 8 steps``, ``exact_dedup · find duplicates``."""
    if isinstance(task, MapTask):
        names = [s.name for s in cfg.steps[task.start : task.stop]]
        if task.apply_global is not None:
            names.insert(0, cfg.steps[task.apply_global].name)
        what = names[0] if len(names) == 1 else f"{len(names)} steps" if names else "copy"
        return f"map {task.stage} · {what}"
    step = cfg.steps[task.step_index].step()
    return f"{cfg.steps[task.step_index].name} · {step.reduce_stages[task.stage_index].name}"


def _diff_keys(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> str:
    keys = []
    for k in sorted(set(a) | set(b)):
        if k == "executor":
            continue
        va, vb = a.get(k), b.get(k)
        if va != vb:
            if isinstance(va, dict) and isinstance(vb, dict):
                keys.append(_diff_keys(va, vb, f"{prefix}{k}."))
            else:
                keys.append(f"{prefix}{k}")
    return ", ".join(x for x in keys if x) or "nothing visible"


def _expand(path: str, fmt: str, input_index: int, key: str) -> list[InputFile]:
    """Expand a path, folder or glob into input files with their format, in sorted order."""
    fs = filesystem(path)
    stripped = fs._strip_protocol(path)
    if any(c in path for c in "*?["):
        found = sorted(fs.glob(stripped))
        root = stripped.split("*")[0].rsplit("/", 1)[0]
    elif fs.isdir(stripped):
        root = stripped.rstrip("/")
        exts = EXTENSIONS[fmt] if fmt != "auto" else tuple(e for v in EXTENSIONS.values() for e in v)
        found = sorted(p for p in fs.find(stripped) if p.lower().endswith(exts))
    elif fs.exists(stripped):
        found = [stripped]
        root = stripped.rsplit("/", 1)[0]
    else:
        raise ConfigError(f"{key}: no such file or folder: {path}")
    files = []
    for p in found:
        if fs.isdir(p):
            continue
        f = fmt if fmt != "auto" else detect_format(p)
        if f is None:
            raise ConfigError(
                f"{key}: cannot tell the format of {p} from its name; set format: (jsonl, parquet, warc, text)"
            )
        url = (
            p
            if fs.protocol in ("file", ("file", "local")) or "file" in fs.protocol
            else fs.unstrip_protocol(p)
        )
        files.append(InputFile(url, input_index, f, root, int(fs.size(p) or 0)))
    if not files:
        raise ConfigError(f"{key}: {path} matches no input files")
    return files


def _unify_parquet(files: list[str]) -> None:
    """Rewrite the Parquet files whose schema differs from their union (new columns become nulls)."""
    if len(files) < 2:
        return
    schemas = [pq.read_schema(f) for f in files]
    unified = pa.unify_schemas(schemas, promote_options="permissive")
    unified = pa.schema([f for f in unified], metadata=None)
    for f, s in zip(files, schemas, strict=True):
        if s.remove_metadata() != unified:
            table = conform(read_file(f), unified)
            tmp = f + ".tmp"
            pq.write_table(table, tmp, compression="zstd", row_group_size=64 * 1024)
            os.replace(tmp, f)
