"""datatrove side of ``minhash_vs_peers.py``: its MinHash dedup, 4 stages, on the benchmark corpus.

Runs with the python of ``bench/.venv-datatrove`` (datatrove never enters the project's venv), one
process per measured run, printing ``RESULT {json}``:

    bench/.venv-datatrove/bin/python bench/_datatrove_minhash_driver.py --input DIR --output DIR \
        --workers 2 [--tokenizer spacy|regex] [--bands 14 --rows 8 --ngram 5]

The four stages of datatrove's own example (``examples/minhash_deduplication.py``), each a
``LocalPipelineExecutor`` run after the previous one finished, ``workers`` processes each:

1. ``JsonlReader`` -> ``MinhashDedupSignature`` (one task per input file): signatures, sorted per
   bucket and written to ``<work>/signatures``;
2. ``MinhashDedupBuckets`` (``bands`` tasks, as datatrove requires): duplicate pairs per bucket;
3. ``MinhashDedupCluster`` (1 task): union-find, the ids to remove; ``save_cluster_id=True``;
4. ``JsonlReader`` -> ``MinhashDedupFilter`` (``load_cluster_ids=True``, removed documents to an
   exclusion writer) -> ``JsonlWriter`` (one task per input file, as stage 1).

``MinhashConfig(n_grams, num_buckets=bands, hashes_per_bucket=rows, seed=1)`` with its defaults
otherwise: 64-bit xxhash shingles of ``simplify_text`` (lowercase, numbers -> 0, punctuation ->
space, whitespace collapsed) split by the word tokenizer. Cluster ids (stage 3 -> 4) are what the
harness scores; they cost datatrove a few small files. ``--tokenizer spacy`` is datatrove's default
for English (spaCy's blank ``en`` pipeline; ships in the wheel, nothing downloaded); ``--tokenizer
regex`` passes the regex ``WordTokenizer`` of ``_datatrove_driver.py`` (``\\w+`` and runs of other
non-space characters, which ``simplify_text`` has already removed) as the ``language`` argument.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--tokenizer", choices=["spacy", "regex"], default="spacy")
    ap.add_argument("--bands", type=int, default=14)
    ap.add_argument("--rows", type=int, default=8)
    ap.add_argument("--ngram", type=int, default=5)
    args = ap.parse_args()

    t_import = time.perf_counter()
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    from _datatrove_driver import make_regex_tokenizer

    out, work = args.output, os.path.join(args.output, "work")
    shutil.rmtree(out, ignore_errors=True)
    files = len(glob.glob(os.path.join(args.input, "*.jsonl.gz")))
    cfg = MinhashConfig(n_grams=args.ngram, num_buckets=args.bands, hashes_per_bucket=args.rows, seed=1)
    language = make_regex_tokenizer() if args.tokenizer == "regex" else "en"

    def reader() -> JsonlReader:
        return JsonlReader(
            args.input, glob_pattern="*.jsonl.gz", text_key="text", id_key="id", add_file_path=False
        )

    def executor(name: str, pipeline: list, tasks: int) -> LocalPipelineExecutor:  # type: ignore[type-arg]
        return LocalPipelineExecutor(
            pipeline=pipeline,
            tasks=tasks,
            workers=min(args.workers, tasks),
            logging_dir=os.path.join(work, "logs", name),
        )

    stages = [
        (
            "signatures",
            executor(
                "signatures",
                [
                    reader(),
                    MinhashDedupSignature(os.path.join(work, "signatures"), config=cfg, language=language),
                ],
                files,
            ),
        ),
        (
            "buckets",
            executor(
                "buckets",
                [
                    MinhashDedupBuckets(
                        os.path.join(work, "signatures"), os.path.join(work, "buckets"), config=cfg
                    )
                ],
                cfg.num_buckets,
            ),
        ),
        (
            "cluster",
            executor(
                "cluster",
                [
                    MinhashDedupCluster(
                        os.path.join(work, "buckets"),
                        os.path.join(work, "remove_ids"),
                        config=cfg,
                        save_cluster_id=True,
                    )
                ],
                1,
            ),
        ),
        (
            "filter",
            executor(
                "filter",
                [
                    reader(),
                    MinhashDedupFilter(
                        os.path.join(work, "remove_ids"),
                        exclusion_writer=JsonlWriter(
                            os.path.join(out, "removed"), output_filename="${rank}.jsonl.gz"
                        ),
                        load_cluster_ids=True,
                    ),
                    JsonlWriter(os.path.join(out, "kept"), output_filename="${rank}.jsonl.gz"),
                ],
                files,
            ),
        ),
    ]
    t0 = time.perf_counter()
    stage_seconds = {}
    for name, ex in stages:
        ts = time.perf_counter()
        ex.run()
        stage_seconds[name] = round(time.perf_counter() - ts, 3)
    seconds = time.perf_counter() - t0

    def count(folder: str) -> int:
        import gzip

        return sum(sum(1 for _ in gzip.open(f)) for f in glob.glob(os.path.join(folder, "*.jsonl.gz")))

    kept, removed = count(os.path.join(out, "kept")), count(os.path.join(out, "removed"))
    result = {
        "docs_in": kept + removed,
        "docs_out": kept,
        "seconds": seconds,
        "setup_seconds": t0 - t_import,
        "phases": stage_seconds,
        "tasks": files,
    }
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.exit(main())
