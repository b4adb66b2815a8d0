"""gencommons side of ``filters_vs_datatrove.py``: run one pipeline config, print a JSON line.

    .venv/bin/python bench/_gencommons_driver.py --config run.json [--task-per-file]

A subprocess of its own per measured run, so that the harness measures the whole process tree (the
local executor's forkserver workers, or a Ray cluster started by ``ray.init``) from a cold start,
exactly as for datatrove.

``--task-per-file`` makes every input file a task of its own: with ``task_size`` in the config where
the engine has that key, else by lowering the engine's module-level shard size (older engines had no
config key for it). Without it, inputs smaller than 16 MB in all form a single task and a second
worker has nothing to do.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, help="JSON file holding the pipeline config")
    ap.add_argument("--task-per-file", action="store_true")
    args = ap.parse_args()
    with open(args.config, encoding="utf-8") as fh:
        cfg = json.load(fh)

    t_import = time.perf_counter()
    from gencommons.data import pipeline as engine
    from gencommons.data.config import PipelineConfig

    if args.task_per_file:
        if "task_size" in PipelineConfig.model_fields:
            cfg["task_size"] = 1
        else:
            engine.SHARD_BYTES = 1  # type: ignore[attr-defined]
    pipe = engine.Pipeline.from_dict(cfg)
    tasks = len(pipe.plan_shards())
    t0 = time.perf_counter()
    result = pipe.run(overwrite=True)
    seconds = time.perf_counter() - t0
    if cfg.get("executor", {}).get("kind") == "ray":
        import ray

        ray.shutdown()
    counts = result.manifest["counts"]
    out = {
        "docs_in": counts["documents_in"],
        "docs_out": counts["documents_out"],
        "seconds": seconds,
        "setup_seconds": t0 - t_import,
        "steps": result.manifest["steps"],
        "tasks": tasks,
    }
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
