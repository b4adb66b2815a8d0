"""``gencommons data stats`` and ``data index`` on 1 worker, 2 local workers and 2 Ray workers, same
corpus, same run (the corpus of ``bench/data_analysis.py``); also stats against pandas at that size.

    .venv/bin/python bench/analysis_parallel.py [--size 30]

Writes bench/results/analysis_parallel.{json,md}. Wall-clock seconds (the point of workers is wall
time); the stats of every configuration are checked to be identical.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from data_analysis import RESULTS, SCRATCH, bench_stats, corpus, tokenizer


def _strip(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _strip(v) for k, v in x.items() if k != "seconds"}
    if isinstance(x, list):
        return [_strip(v) for v in x]
    return x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=30, help="Corpus size in millions of tokens.")
    args = ap.parse_args()
    import ray

    from gencommons.data.analysis.index import build_index
    from gencommons.data.analysis.parallel import Parallel
    from gencommons.data.analysis.stats import StatsConfig, compute_stats

    SCRATCH.mkdir(parents=True, exist_ok=True)
    tok = tokenizer()
    ds = corpus(args.size, tok)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    where = {"1 worker": Parallel(), "2 workers": Parallel(workers=2), "Ray, 2 workers": Parallel("ray", 2)}
    res: dict[str, Any] = {"size": f"{args.size}M", "cpu_count": os.cpu_count(), "stats": {}, "index": {}}
    ref = None
    for name, w in where.items():
        t0 = time.perf_counter()
        s = compute_stats(str(ds), StatsConfig(ngram_sizes=(1, 2, 3)), where=w)
        res["stats"][name] = {"seconds": time.perf_counter() - t0, "documents": s["documents"]}
        ref = ref or _strip(s)
        res["stats"][name]["same_as_1_worker"] = _strip(s) == ref
        print(f"stats ({name}): {res['stats'][name]['seconds']:.1f} s", flush=True)
    for name, w in where.items():
        out = SCRATCH / "parallel-index"
        t0 = time.perf_counter()
        m = build_index(str(ds), str(out), overwrite=True, where=w)
        res["index"][name] = {
            "seconds": time.perf_counter() - t0,
            "units": m["units"],
            "shards": len(m["shards"]),
        }
        print(f"index bytes ({name}): {res['index'][name]['seconds']:.1f} s", flush=True)
        shutil.rmtree(out)
    ray.shutdown()
    res["stats_vs_pandas"] = bench_stats(args.size, tok)
    (RESULTS / "analysis_parallel.json").write_text(json.dumps(res, indent=2))
    one_s, one_i = res["stats"]["1 worker"]["seconds"], res["index"]["1 worker"]["seconds"]
    rows = ["| configuration | stats + 1/2/3-grams | speed-up | same stats | bytes index build | speed-up |",
            "|---|--:|--:|---|--:|--:|"]  # fmt: skip
    for name in where:
        st, ix = res["stats"][name], res["index"][name]
        rows.append(
            f"| {name} | {st['seconds']:.1f} s | {one_s / st['seconds']:.2f}× | {st['same_as_1_worker']} | "
            f"{ix['seconds']:.1f} s ({ix['shards']} shards) | {one_i / ix['seconds']:.2f}× |"
        )
    sp = res["stats_vs_pandas"]
    md = (
        f"Corpus {res['size']} tokens, {res['stats']['1 worker']['documents']:,} documents, {os.cpu_count()} CPUs.\n\n"
        + "\n".join(rows)
        + f"\n\nstats without n-grams {sp['gencommons_s']:.1f} s ({sp['docs_per_s']['gencommons']:,.0f} docs/s) vs "
        f"pandas, same figures, {sp['pandas_s']:.1f} s ({sp['docs_per_s']['pandas']:,.0f} docs/s)\n"
    )
    (RESULTS / "analysis_parallel.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
