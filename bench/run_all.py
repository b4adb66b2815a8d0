"""Run every benchmark in bench/ (what ``make bench`` runs), one subprocess each, and summarise.

    .venv/bin/python bench/run_all.py                       # every bench/*.py except this one and _*.py
    .venv/bin/python bench/run_all.py filters_vs_datatrove  # only the named ones

A benchmark is any ``bench/<name>.py`` not starting with ``_``; each writes its own results under
``bench/results/`` (gitignored). This script prints their output as it comes, then one line per
benchmark with its exit status and time, writes ``bench/results/run_all.json``, and exits non-zero if
any benchmark failed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"


def discover() -> list[str]:
    return sorted(p.stem for p in BENCH.glob("*.py") if not p.name.startswith("_") and p.name != "run_all.py")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "names", nargs="*", help="benchmarks to run (default: all); available: " + ", ".join(discover())
    )
    args = ap.parse_args(argv)
    available = discover()
    names = args.names or available
    unknown = [n for n in names if n not in available]
    if unknown:
        raise SystemExit(f"Unknown benchmark(s) {', '.join(unknown)}. Available: {', '.join(available)}.")

    summary = []
    for name in names:
        print(f"\n===== {name} =====", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.run(
            [sys.executable, str(BENCH / f"{name}.py")], cwd=BENCH.parent, check=False
        ).returncode
        summary.append({"benchmark": name, "exit": rc, "seconds": round(time.perf_counter() - t0, 1)})

    print("\n===== summary =====")
    for s in summary:
        status = "ok" if s["exit"] == 0 else f"FAILED (exit {s['exit']})"
        print(f"{s['benchmark']:<28} {status:<16} {s['seconds']:>7.1f} s")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "run_all.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return 0 if all(s["exit"] == 0 for s in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
