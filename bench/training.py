"""Training throughput: gencommons' training loop vs a plain ``transformers.Trainer``, same model and data.

    .venv/bin/python bench/training.py                         # presets 1m and 3m, ~5 minutes on 2 cores
    .venv/bin/python bench/training.py --presets 1m --steps 30 # smoke test

1. **Data**: a byte-level BPE tokenizer (8,192 tokens) trained on ``shared/data/text`` (Gutenberg, web,
   Debian man pages; the first 3,000 documents), the same documents packed into 256-token sequences
   (``gencommons lm pack``), in ``bench/results/scratch/training/``.
2. **Runs**: for each preset, ``_training_driver.py`` in a fresh subprocess measured by ``_measure.py``
   (CPU seconds, peak RSS), once with ``gencommons lm``'s loop and once with ``transformers.Trainer``:
   same LlamaForCausalLM config and seed-0 initial weights, batch 8 × 256 tokens, AdamW, cosine
   schedule, clipping, fp32, all cores; steady-state tokens/s from the median step time after 5 steps.
3. **MFU** (model FLOPs utilization): training FLOPs per token (6N + 12·L·d·T, PaLM appendix B) ×
   tokens/s, divided by this machine's measured matmul peak in the run's precision (the best of ten
   2048³ matmuls on all cores), since a CPU's nominal peak is rarely reachable.

Writes ``bench/results/training.md`` (printed) and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from _measure import measure, wait_for_quiet

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
WORK = RESULTS / "scratch" / "training"
SHARED = ROOT.parent / "shared" / "data" / "text"
PY = sys.executable
TOOLS = (
    "gencommons",
    "gencommons-eager",
    "gencommons-compile",
    "gencommons-fp32",
    "trainer",
    "trainer-bf16",
    "trainer-bf16-compile",
)
PAIRS = (  # (gencommons run, Trainer run) compared in the ratio table
    ("gencommons", "trainer"),
    ("gencommons", "trainer-bf16"),
    ("gencommons-eager", "trainer"),
    ("gencommons", "trainer-bf16-compile"),
    ("gencommons-fp32", "trainer"),
    ("gencommons-compile", "trainer-bf16-compile"),
    ("gencommons-compile", "trainer"),
)


def prepare(docs: int) -> Path:
    """Tokenizer + packed data from the shared text (rebuilt only when missing)."""
    import gzip

    packed = WORK / "packed"
    if (packed / "index.json").exists():
        return packed
    WORK.mkdir(parents=True, exist_ok=True)
    corpus = WORK / "corpus.jsonl"
    n = 0
    with open(corpus, "w", encoding="utf-8") as out:
        for name in ("gutenberg", "web", "debian-man"):
            with gzip.open(SHARED / f"{name}.jsonl.gz", "rt", encoding="utf-8") as fh:
                for line in fh:
                    rec = json.loads(line)
                    if not rec.get("text"):
                        continue
                    out.write(json.dumps({"id": rec["id"], "text": rec["text"], "source": name}) + "\n")
                    n += 1
                    if n % (docs // 3) == 0:
                        break
    from gencommons.lm.pack import pack
    from gencommons.lm.tokenizer import train_tokenizer

    train_tokenizer(str(corpus), str(WORK / "tok"), vocab_size=8192, overwrite=True)
    pack(
        [str(corpus)],
        str(packed),
        tokenizer=str(WORK / "tok"),
        seq_len=256,
        val_fraction=0.01,
        overwrite=True,
    )
    return packed


def matmul_peak(dtype: str) -> float:
    """Best FLOP/s of a 2048³ matmul on all cores in ``dtype`` (this CPU's practical peak)."""
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    dt = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype]
    a, b = torch.randn(2048, 2048, dtype=dt), torch.randn(2048, 2048, dtype=dt)
    best = 0.0
    for _ in range(10):
        t = time.perf_counter()
        a @ b
        best = max(best, 2 * 2048**3 / (time.perf_counter() - t))
    return best


def run(tool: str, packed: Path, preset: str, steps: int, batch: int) -> dict[str, Any]:
    out = WORK / f"run-{tool}-{preset}"
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    wait_for_quiet(60)
    m = measure(
        [
            PY,
            str(ROOT / "bench" / "_training_driver.py"),
            tool,
            str(packed),
            preset,
            str(steps),
            str(batch),
            str(out),
        ],
        log_path=WORK / f"{tool}-{preset}.log",
        cwd=ROOT,
    )
    assert m.result is not None
    return {
        **m.result,
        "cpu_s": m.cpu_s,
        "wall_s": m.wall_s,
        "peak_rss_mb": m.peak_tree_rss / 2**20,
        "other_cores": m.other_cores,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--presets", default="1m,3m")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--docs", type=int, default=3000)
    args = ap.parse_args()
    packed = prepare(args.docs)
    wait_for_quiet(60)
    peaks = {d: matmul_peak(d) for d in ("fp32", "bf16")}
    rows = []
    for preset in args.presets.split(","):
        for tool in TOOLS:
            r = run(tool, packed, preset, args.steps, args.batch)
            r["mfu"] = r["flops_per_s"] / peaks[r["precision"]]
            rows.append(r)
            print(
                f"{preset:>4} {tool:<10} {r['tokens_per_s']:>9,.0f} tokens/s  MFU {r['mfu']:.1%}  loss {r['final_loss']:.3f}",
                flush=True,
            )
    lines = [
        "# Training throughput: gencommons vs transformers.Trainer",
        "",
        (
            f"{time.strftime('%Y-%m-%d %H:%M:%S')} · CPU, {os.cpu_count()} cores · batch {args.batch} × 256 tokens, "
            f"{args.steps} steps · measured matmul peak: fp32 {peaks['fp32'] / 1e9:,.0f}, bf16 {peaks['bf16'] / 1e9:,.0f} GFLOP/s (MFU is against the peak of the run's precision)"
        ),
        "",
        "| preset | tool | precision | tokens/s | step (ms, median) | MFU vs matmul peak | final loss | CPU s | peak RSS (MB) | other load (cores) |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['preset']} | {r['tool']} | {r['precision']} | {r['tokens_per_s']:,.0f} | {r['step_s_median'] * 1000:.1f} | {r['mfu']:.1%} | "
            f"{r['final_loss']:.3f} | {r['cpu_s']:.1f} | {r['peak_rss_mb']:,.0f} | {r['other_cores']:.2f} |"
        )
    lines += [
        "",
        "## Ratios of tokens/s, gencommons / Trainer",
        "",
        "| preset | gencommons | Trainer | ratio |",
        "|---|---|---|--:|",
    ]
    for preset in args.presets.split(","):
        for g_tool, t_tool in PAIRS:
            g = next(r for r in rows if r["preset"] == preset and r["tool"] == g_tool)
            t = next(r for r in rows if r["preset"] == preset and r["tool"] == t_tool)
            lines.append(
                f"| {preset} | {g_tool} ({g['precision']}) | {t_tool} ({t['precision']}) | {g['tokens_per_s'] / t['tokens_per_s']:.2f}× |"
            )
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "training.md").write_text(text)
    (RESULTS / "training.json").write_text(json.dumps({"peak_flops": peaks, "runs": rows}, indent=2))
    print(text)


if __name__ == "__main__":
    main()
