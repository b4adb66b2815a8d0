"""Ratings speed: gencommons' Bradley–Terry against evalica, arena-rank and scikit-learn, same votes.

    .venv/bin/python bench/ratings.py                      # 1.7M votes / 130 models + llmfao, ~10 minutes
    .venv/bin/python bench/ratings.py --votes 200000 --tools gencommons,evalica   # smoke test

1. **Votes**: ``synthetic_votes(130, 1_700_000)`` (Chatbot Arena's size in August 2024: strengths with a
   100-point spread, pairs drawn in proportion to log-normal model popularities, ~10% ties of both
   kinds, outcomes from Bradley–Terry; ``gencommons.arena.ratings.synthetic``), and the 8,931 real
   llmfao crowd votes (``shared/data/votes/llmfao``, or the copy in ``tests/data``), as Parquet in
   ``bench/results/scratch/ratings/``.
2. **Runs**: ``_ratings_driver.py`` in a fresh process per (votes, tool, task), measured by
   ``_measure.py`` (wall, CPU, peak RSS), after waiting for a quiet machine. Tasks: *fit*, one
   Bradley–Terry fit from the in-memory table; *bootstrap*, ratings with ``--rounds`` bootstrap rounds
   (gencommons: the whole leaderboard, online Elo and the robustness search included; evalica:
   ``evalica.bootstrap`` percentile intervals; arena-rank: ``compute_ratings_and_cis(ci_method=
   "bootstrap", n_jobs=2)``). scikit-learn's dense per-vote path (``LogisticRegression``, the older
   Chatbot Arena notebook) runs on a ``--sklearn-votes`` subsample and is extrapolated linearly.
3. **Agreement**: the largest absolute difference, in Elo points (every tool centred to mean 1000),
   between each tool's ratings and gencommons' on the same votes; for bootstraps, between interval
   bounds (each tool draws its own resamples, so a few points of noise are expected).

Writes ``bench/results/ratings.md`` (printed) and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from _measure import measure, wait_for_quiet

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
WORK = RESULTS / "scratch" / "ratings"
PY = sys.executable
LLMFAO = [
    ROOT.parent / "shared" / "data" / "votes" / "llmfao" / "llmfao.csv",
    ROOT / "tests" / "data" / "votes" / "llmfao" / "llmfao-counts.csv",
]
TOOLS = ("gencommons", "gencommons-lbfgs", "evalica", "arena-rank", "sklearn")


def prepare(votes: int, models: int, seed: int) -> dict[str, Path]:
    import polars as pl

    sys.path.insert(0, str(ROOT / "src"))
    from gencommons.arena.ratings import synthetic_votes

    WORK.mkdir(parents=True, exist_ok=True)
    arena = WORK / f"arena-{models}x{votes}-seed{seed}.parquet"
    truth_path = arena.with_suffix(".truth.json")
    if not arena.exists():
        df, truth = synthetic_votes(models, votes, seed=seed)
        df.write_parquet(arena)
        truth_path.write_text(json.dumps(truth), encoding="utf-8")
    llmfao = WORK / "llmfao.parquet"
    if not llmfao.exists():
        source = next(p for p in LLMFAO if p.exists())
        raw = pl.read_csv(source)
        if "count" in raw.columns:  # the aggregated copy: one row per vote again
            df = raw.select(pl.exclude("count").repeat_by(pl.col("count")).explode())
        else:
            df = raw.select(
                model_a="left",
                model_b="right",
                winner=pl.col("winner").replace_strict({"left": "model_a", "right": "model_b", "tie": "tie"}),
            )
        df.write_parquet(llmfao)
    return {"arena": arena, "llmfao": llmfao}


def run(
    name: str, path: Path, tool: str, task: str, rounds: int, timeout: int, subsample: int
) -> dict[str, Any]:
    out = WORK / f"{name}-{tool}-{task}.json"
    out.unlink(missing_ok=True)
    wait_for_quiet(60)
    cmd = ["timeout", str(timeout), PY, str(ROOT / "bench" / "_ratings_driver.py"), tool, task, str(path)]
    cmd += [str(rounds), str(out), str(subsample)]
    row: dict[str, Any] = {"votes_file": name, "tool": tool, "task": task}
    try:
        m = measure(cmd, log_path=WORK / f"{name}-{tool}-{task}.log", cwd=ROOT)
    except SystemExit as e:  # timed out or failed: say so in the table
        print(str(e)[:2000], flush=True)
        return {**row, "error": "timed out" if "exit 124" in str(e) else "failed"}
    assert m.result is not None
    data = json.loads(out.read_text(encoding="utf-8"))
    return {
        **row,
        **m.result,
        "wall_s": m.wall_s,
        "cpu_s": m.cpu_s,
        "peak_rss_mb": m.peak_tree_rss / 2**20,
        "other_cores": m.other_cores,
        "ratings": data["ratings"],
        "lower": data.get("lower"),
        "upper": data.get("upper"),
    }


def max_diff(a: dict[str, float] | None, b: dict[str, float] | None) -> float | None:
    if not a or not b:
        return None
    return max(abs(a[m] - b[m]) for m in b if m in a)


def median_bound_diff(r: dict[str, Any], g: dict[str, Any]) -> float | None:
    """Median over models and both bounds of |bound difference| (the largest is a model with a handful of
    votes, whose bounds are set by resamples with no finite maximum-likelihood rating)."""
    import statistics

    if not r.get("lower") or not g.get("lower"):
        return None
    return statistics.median(abs(r[k][m] - g[k][m]) for k in ("lower", "upper") for m in g[k] if m in r[k])


def report(rows: list[dict[str, Any]], args: argparse.Namespace, truth: dict[str, float]) -> str:
    lines = [
        "# Ratings: gencommons vs evalica, arena-rank, scikit-learn",
        "",
        (
            f"Synthetic arena: {args.votes:,} votes over {args.models} models (seed {args.seed}); llmfao: 8,931 real "
            f"crowd votes over 59 models. Bootstrap: {args.rounds} rounds. *seconds*: prep + call, from the "
            "in-memory table (gencommons aggregates inside its call); *×*: seconds / gencommons' seconds for the "
            "same votes and task (the peers' bootstraps against gencommons' bootstrap without the leaderboard "
            "extras); *Δ Elo*: largest |rating difference| to gencommons on the same votes (bootstrap rows: median "
            "|difference| of the interval bounds, which come from different resamples)."
        ),
        "",
        "| votes | tool | task | seconds | prep s | × gencommons | wall s | CPU s | peak RSS MB | Δ Elo | other load |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    base = {(r["votes_file"], r["task"]): r for r in rows if r["tool"] == "gencommons" and "error" not in r}
    for key in list(base):  # the full leaderboard is compared with gencommons' plain bootstrap
        if key[1] == "bootstrap":
            base[(key[0], "leaderboard")] = base[key]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['votes_file']} | {r['tool']} | {r['task']} | {r['error']} | | | | | | | |")
            continue
        g = base.get((r["votes_file"], r["task"]))
        ratio = f"{r['seconds'] / g['seconds']:.1f}" if g and g["seconds"] > 0 else ""
        if r.get("extrapolated"):
            diff = r["agreement_same_subsample"]
        elif r["task"] == "fit":
            diff = max_diff(r["ratings"], g["ratings"]) if g else None
        else:
            diff = median_bound_diff(r, g) if g else None
        tool = r["tool"] + (f" (extrapolated from {r['subsample']:,} votes)" if r.get("extrapolated") else "")
        lines.append(
            f"| {r['votes_file']} | {tool} | {r['task']} | {r['seconds']:.3f} | {r['prep_s']:.3f} | {ratio} | "
            f"{r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['peak_rss_mb']:.0f} | "
            f"{'' if diff is None else f'{diff:.2g}'} | {r['other_cores']:.2f} |"
        )
    sk = [r for r in rows if r["tool"] == "sklearn" and "error" not in r]
    for r in sk:
        lines.append(
            f"\nscikit-learn on {r['votes_file']}: measured {r['measured_s']:.2f} s on {r['subsample']:,} votes; "
            f"its ratings differ from gencommons' on the same subsample by ≤ {r['agreement_same_subsample']:.2g} Elo "
            "(its default-like tol=1e-6)."
        )
    g = next((r for r in rows if r["tool"] == "gencommons" and r["task"] == "leaderboard" and "ratings" in r
              and r["votes_file"] == "arena"), None)  # fmt: skip
    if g and truth:
        inside = sum(g["lower"][m] <= truth[m] <= g["upper"][m] for m in truth)
        err = max(abs(g["ratings"][m] - truth[m]) for m in truth)
        lines.append(
            f"\ngencommons on the synthetic arena: max |rating − true strength| = {err:.1f} Elo; "
            f"{inside} of {len(truth)} true strengths inside their 95% intervals; robustness: "
            f"{g.get('robustness_votes')} votes change the top model."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--votes", type=int, default=1_700_000)
    ap.add_argument("--models", type=int, default=130)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--sklearn-votes", type=int, default=100_000, help="subsample for scikit-learn")
    ap.add_argument(
        "--timeout", type=int, default=900, help="seconds per run before it is reported as timed out"
    )
    ap.add_argument("--no-bootstrap-peers", action="store_true", help="skip the peers' bootstraps (slow)")
    ap.add_argument("--only", default="arena,llmfao", help="vote files to run: arena, llmfao")
    args = ap.parse_args()
    files = prepare(args.votes, args.models, args.seed)
    truth = json.loads(files["arena"].with_suffix(".truth.json").read_text(encoding="utf-8"))
    tools = [t for t in TOOLS if t in args.tools.split(",")]
    rows = []
    for name, path in files.items():
        if name not in args.only.split(","):
            continue
        for task in ("fit", "bootstrap", "leaderboard"):
            for tool in tools:
                if task != "fit" and tool in ("sklearn", "gencommons-lbfgs"):
                    continue  # no bootstrap of its own / measured on one fit
                if task == "leaderboard" and tool != "gencommons":
                    continue
                if task == "bootstrap" and args.no_bootstrap_peers and tool != "gencommons":
                    continue
                subsample = args.sklearn_votes if (tool == "sklearn" and name == "arena") else 0
                print(f"{name} {tool} {task} ...", flush=True)
                row = run(name, path, tool, task, args.rounds, args.timeout, subsample)
                print({k: v for k, v in row.items() if k not in ("ratings", "lower", "upper")}, flush=True)
                rows.append(row)
    text = report(rows, args, truth)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ratings.md").write_text(text, encoding="utf-8")
    (RESULTS / "ratings.json").write_text(
        json.dumps(
            {
                "args": vars(args),
                "runs": [{k: v for k, v in r.items() if k not in ("lower", "upper")} for r in rows],
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    print(text)


if __name__ == "__main__":
    main()
