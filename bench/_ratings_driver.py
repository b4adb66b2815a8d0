"""One measured ratings run: a tool, a task, a vote file. Prints ``RESULT {json}`` for ``_measure.py``.

    python bench/_ratings_driver.py TOOL TASK VOTES.parquet ROUNDS OUT.json [SUBSAMPLE]

TOOL: gencommons, gencommons-lbfgs, evalica, arena-rank, sklearn. TASK: fit (one Bradley–Terry fit),
bootstrap (the ratings with ROUNDS bootstrap rounds) or, for gencommons, leaderboard (the bootstrap plus
ranks, online Elo and the robustness search: what ``gencommons arena ratings`` computes). ``prep_s`` is the time to turn the in-memory table into
what the tool takes (aggregation for gencommons happens inside its fit and counts there); ``task_s`` the
call itself; ``seconds`` = both. Writes ratings (Elo scale, mean 1000) and intervals to OUT.json.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import sys
import time
from typing import Any

import numpy as np
import polars as pl


def centred(ratings: dict[str, float]) -> dict[str, float]:
    mean = sum(ratings.values()) / len(ratings)
    return {m: r - mean + 1000.0 for m, r in ratings.items()}


def run_gencommons(df: pl.DataFrame, task: str, rounds: int, solver: str) -> dict[str, Any]:
    from gencommons.arena.ratings import bradley_terry, leaderboard

    t0 = time.perf_counter()
    if task == "fit":
        ratings = bradley_terry(df, solver=solver)  # type: ignore[arg-type]
        return {"prep_s": 0.0, "task_s": time.perf_counter() - t0, "ratings": ratings}
    full = task == "leaderboard"  # else only the intervals, like the peers' bootstraps
    board = leaderboard(df, rounds=rounds, seed=0, solver=solver, online=full, robustness=full)  # type: ignore[arg-type]
    task_s = time.perf_counter() - t0
    t = board.table
    robust = board.robustness
    return {
        "prep_s": 0.0,
        "task_s": task_s,
        "ratings": dict(zip(t["model"], t["rating"], strict=True)),
        "lower": dict(zip(t["model"], t["lower"], strict=True)),
        "upper": dict(zip(t["model"], t["upper"], strict=True)),
        "robustness_votes": None if robust is None else robust.votes,
    }


def run_evalica(df: pl.DataFrame, task: str, rounds: int) -> dict[str, Any]:
    import evalica

    pdf = df.to_pandas()
    t0 = time.perf_counter()
    to_winner = {"model_a": evalica.Winner.X, "model_b": evalica.Winner.Y}
    winners = [to_winner.get(w, evalica.Winner.Draw) for w in pdf["winner"]]
    prep_s = time.perf_counter() - t0
    t1 = time.perf_counter()

    def elo(scores: Any) -> dict[str, float]:  # evalica's scores are exp(strength), up to a factor
        return centred({m: 400 * math.log10(s) for m, s in scores.items()})

    if task == "fit":
        result = evalica.bradley_terry(pdf["model_a"], pdf["model_b"], winners)
        return {"prep_s": prep_s, "task_s": time.perf_counter() - t1, "ratings": elo(result.scores)}
    boot = evalica.bootstrap(
        evalica.bradley_terry,
        pdf["model_a"],
        pdf["model_b"],
        winners,
        n_resamples=rounds,
        bootstrap_method="percentile",
        random_state=0,
    )
    task_s = time.perf_counter() - t1
    ratings = elo(boot.result.scores)
    shift = {m: ratings[m] - 400 * math.log10(s) for m, s in boot.result.scores.items()}
    return {
        "prep_s": prep_s,
        "task_s": task_s,
        "ratings": ratings,
        "lower": {m: 400 * math.log10(v) + shift[m] for m, v in boot.low.items()},
        "upper": {m: 400 * math.log10(v) + shift[m] for m, v in boot.high.items()},
    }


def run_arena_rank(df: pl.DataFrame, task: str, rounds: int) -> dict[str, Any]:
    from arena_rank.models.bradley_terry import BradleyTerry
    from arena_rank.utils.data_utils import PairDataset

    pdf = df.to_pandas()
    t0 = time.perf_counter()
    dataset = PairDataset.from_pandas(pdf, min_pair_count=0)  # keep every pair, as the others do
    prep_s = time.perf_counter() - t0
    model = BradleyTerry(n_competitors=len(dataset.competitors))
    t1 = time.perf_counter()
    if task == "fit":
        model.fit(dataset)
        ratings = np.asarray(model.params["ratings"]) * 400 / math.log(10)  # logits → Elo points
        out = centred(dict(zip(dataset.competitors, ratings.tolist(), strict=True)))
        return {"prep_s": prep_s, "task_s": time.perf_counter() - t1, "ratings": out}
    res = model.compute_ratings_and_cis(
        dataset, ci_method="bootstrap", num_bootstrap=rounds, seed=0, n_jobs=2
    )
    task_s = time.perf_counter() - t1
    names = res["competitors"]
    shift = 1000.0 - float(np.mean(res["ratings"]))
    return {
        "prep_s": prep_s,
        "task_s": task_s,
        "ratings": {m: float(r) + shift for m, r in zip(names, res["ratings"], strict=True)},
        "lower": {m: float(r) + shift for m, r in zip(names, res["rating_lower"], strict=True)},
        "upper": {m: float(r) + shift for m, r in zip(names, res["rating_upper"], strict=True)},
    }


def run_sklearn(df: pl.DataFrame, subsample: int) -> dict[str, Any]:
    """The older Chatbot Arena path: one dense ±log(10) row per vote (ties as two half-weight rows),
    LogisticRegression without intercept or penalty; on a subsample, extrapolated linearly."""
    from sklearn.linear_model import LogisticRegression

    from gencommons.arena.ratings import bradley_terry

    sub = df.sample(n=min(subsample, df.height), seed=0) if subsample else df
    t0 = time.perf_counter()
    models = sorted(set(sub["model_a"]) | set(sub["model_b"]))
    index = {m: i for i, m in enumerate(models)}
    a = np.array([index[m] for m in sub["model_a"]])
    b = np.array([index[m] for m in sub["model_b"]])
    score = sub["winner"].replace_strict({"model_a": 1.0, "model_b": 0.0}, default=0.5).to_numpy()
    rows = np.arange(len(a))
    X = np.zeros((2 * len(a), len(models)))
    for half in (0, 1):  # each vote twice: once labelled 1 with weight score, once 0 with 1 - score
        X[half * len(a) + rows, a] = math.log(10)
        X[half * len(a) + rows, b] = -math.log(10)
    y = np.r_[np.ones(len(a)), np.zeros(len(a))]
    w = np.r_[score, 1.0 - score]
    prep_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    lr = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-6, max_iter=1000)
    lr.fit(X, y, sample_weight=w)
    task_s = time.perf_counter() - t1
    ratings = dict(zip(models, (400 * lr.coef_[0] + 1000).tolist(), strict=True))
    ours = bradley_terry(sub)
    scale = df.height / sub.height
    return {
        "prep_s": prep_s * scale,
        "task_s": task_s * scale,
        "measured_s": prep_s + task_s,
        "subsample": sub.height,
        "extrapolated": scale != 1.0,
        "ratings": ratings,
        "agreement_same_subsample": max(abs(ratings[m] - ours[m]) for m in ours),
    }


def main() -> None:
    tool, task, path, rounds, out = sys.argv[1:6]
    subsample = int(sys.argv[6]) if len(sys.argv) > 6 else 0
    t0 = time.perf_counter()
    df = pl.read_parquet(path)
    read_s = time.perf_counter() - t0
    if tool in ("gencommons", "gencommons-lbfgs"):
        res = run_gencommons(df, task, int(rounds), "lbfgs" if tool.endswith("lbfgs") else "newton")
    elif tool == "evalica":
        res = run_evalica(df, task, int(rounds))
    elif tool == "arena-rank":
        res = run_arena_rank(df, task, int(rounds))
    elif tool == "sklearn":
        res = run_sklearn(df, subsample)
    else:
        raise SystemExit(f"unknown tool {tool}")
    res["seconds"] = res["prep_s"] + res["task_s"]
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(res, fh)
    summary = {k: v for k, v in res.items() if k not in ("ratings", "lower", "upper")}
    print("RESULT " + json.dumps({**summary, "read_s": read_s, "votes": df.height}), flush=True)


if __name__ == "__main__":
    mp.set_start_method("spawn", force=True)  # arena-rank's bootstrap pool: fork deadlocks under JAX
    main()
