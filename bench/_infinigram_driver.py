"""One measured run of the infini-gram package (run with bench/.venv-infinigram's python, never .venv):
build its index over JSONL files in UTF-8 byte mode (``--token_dtype u8``, no tokenizer: the only mode
that needs no model download), then time ``count`` on the given byte queries.

    bench/.venv-infinigram/bin/python bench/_infinigram_driver.py DATA_DIR SAVE_DIR QUERIES.json OUT.json
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

import numpy as np


def main() -> None:
    data_dir, save_dir, queries_path, out_path = sys.argv[1:5]
    import infini_gram
    from infini_gram.engine import InfiniGramEngine

    pkg = os.path.dirname(infini_gram.__file__)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[
        1
    ]  # it raises the soft limit to this; the default is refused here
    t0 = time.perf_counter()
    if not os.path.exists(os.path.join(save_dir, "table.0")):
        r = subprocess.run(
            [sys.executable, "-m", "infini_gram.indexing", "--data_dir", data_dir, "--save_dir", save_dir,
             "--token_dtype", "u8", "--cpus", "2", "--mem", "8", "--ulimit", str(hard)],
            cwd=pkg, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if r.returncode:
            with open(out_path, "w") as fh:
                json.dump({"error": r.stderr[-2000:]}, fh)
            return
    build_s = time.perf_counter() - t0
    size = sum(os.path.getsize(os.path.join(save_dir, f)) for f in os.listdir(save_dir))
    # u8 engines take vocab_size as a byte: 256 does not fit, 255 does (the ids queried are bytes < 255 here)
    engine = InfiniGramEngine(index_dir=save_dir, eos_token_id=254, vocab_size=255, token_dtype="u8")
    with open(queries_path) as fh:
        queries = json.load(fh)
    counts, ts = [], []
    for q in queries:
        t1 = time.perf_counter()
        res = engine.count(input_ids=q)
        ts.append((time.perf_counter() - t1) * 1e3)
        counts.append(res.get("count"))
    with open(out_path, "w") as fh:
        json.dump(
            {"build_s": build_s, "index_bytes": size, "counts": counts,
             "count": {"median_ms": float(np.median(ts)), "p90_ms": float(np.percentile(ts, 90)), "n": len(ts)}},
            fh,
        )  # fmt: skip


if __name__ == "__main__":
    main()
