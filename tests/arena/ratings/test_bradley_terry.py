"""Bradley–Terry fits: against scikit-learn's logistic regression, evalica's golden scores on real votes,
synthetic votes from known strengths, and properties (swapping sides, renaming, shifting)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.arena.ratings.conftest import LLMFAO, expand

from gencommons.arena.ratings import (
    battles_from_votes,
    bradley_terry,
    fit_strengths,
    leaderboard,
    synthetic_votes,
)
from gencommons.errors import ConfigError


def sklearn_reference(votes: pl.DataFrame) -> dict[str, float]:
    """Chatbot Arena's way: ±log(10) design rows, a-wins weighted 2, ties as one half-weight row each way,
    logistic regression without intercept or penalty; rating = 400 · coef + 1000."""
    from sklearn.linear_model import LogisticRegression

    models = sorted(set(votes["model_a"]) | set(votes["model_b"]))
    index = {m: i for i, m in enumerate(models)}
    X, Y, W = [], [], []
    for a, b, w in votes.select("model_a", "model_b", "winner").iter_rows():
        x = np.zeros(len(models))
        x[index[a]], x[index[b]] = math.log(10), -math.log(10)
        win_a = {"model_a": 2.0, "model_b": 0.0}.get(w, 1.0)
        X += [x, x]
        Y += [1, 0]
        W += [win_a, 2.0 - win_a]
    lr = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-12, max_iter=100_000)  # C=inf: no penalty
    lr.fit(np.array(X), np.array(Y), sample_weight=np.array(W))
    return dict(zip(models, (400 * lr.coef_[0] + 1000).tolist(), strict=True))


def test_matches_sklearn_logistic_regression() -> None:
    votes, _ = synthetic_votes(12, 3000, seed=3)
    ours, ref = bradley_terry(votes), sklearn_reference(votes)
    assert max(abs(ours[m] - ref[m]) for m in ref) < 1e-3  # Elo points
    assert abs(np.mean(list(ours.values())) - 1000) < 1e-9  # centred like sklearn's solution


def test_matches_sklearn_on_real_votes(llmfao_votes: pl.DataFrame) -> None:
    ours, ref = bradley_terry(llmfao_votes), sklearn_reference(llmfao_votes)
    assert max(abs(ours[m] - ref[m]) for m in ref) < 1e-2


def test_matches_evalica_golden_scores(llmfao_counts: pl.DataFrame) -> None:
    golden = pl.read_csv(LLMFAO / "llmfao-golden-bradley-terry.csv")
    log_score = {m: math.log(s) for m, s in golden.iter_rows()}
    mean = sum(log_score.values()) / len(log_score)
    ours = bradley_terry(llmfao_counts)
    assert set(ours) == set(log_score)
    # golden scores are exp(strength) normalised to sum 1: compare strengths in logits
    diff = [abs((ours[m] - 1000) * math.log(10) / 400 - (log_score[m] - mean)) for m in ours]
    assert max(diff) < 1e-6


def test_newton_and_lbfgs_agree(llmfao_counts: pl.DataFrame) -> None:
    newton, lbfgs = bradley_terry(llmfao_counts), bradley_terry(llmfao_counts, solver="lbfgs")
    assert max(abs(newton[m] - lbfgs[m]) for m in newton) < 1e-2
    with pytest.raises(ConfigError, match="Unknown solver"):
        bradley_terry(llmfao_counts, solver="adam")  # type: ignore[arg-type]


def test_votes_and_counts_give_identical_leaderboards(
    llmfao_votes: pl.DataFrame, llmfao_counts: pl.DataFrame
) -> None:
    a = leaderboard(llmfao_votes, rounds=20, seed=1, online=False, robustness=False).table
    b = leaderboard(llmfao_counts.sample(fraction=1.0, shuffle=True, seed=0), rounds=20, seed=1, online=False,
                    robustness=False).table  # fmt: skip
    assert a.equals(b)  # bit for bit, intervals included


def test_shared_original_file_when_present(shared_data: object) -> None:
    from pathlib import Path

    assert isinstance(shared_data, Path)
    raw = pl.read_csv(shared_data / "votes" / "llmfao" / "llmfao.csv")
    votes = raw.select(
        model_a="left",
        model_b="right",
        winner=pl.col("winner").replace({"left": "model_a", "right": "model_b"}),
    )
    copy = bradley_terry(pl.read_csv(LLMFAO / "llmfao-counts.csv"))
    assert bradley_terry(votes) == copy


def test_recovers_known_strengths_within_intervals() -> None:
    """40 models, 40,000 votes: at least 85% of the true ratings lie in their 95% intervals (95% expected)."""
    votes, truth = synthetic_votes(40, 40_000, seed=7)
    board = leaderboard(votes, rounds=100, seed=0, online=False, robustness=False).table
    inside = [lo <= truth[m] <= hi for m, lo, hi in board.select("model", "lower", "upper").iter_rows()]
    assert np.mean(inside) >= 0.85
    # and the point ratings are close
    rating = dict(board.select("model", "rating").iter_rows())
    assert np.mean([abs(rating[m] - truth[m]) for m in truth]) < 15


def test_anchor_shifts_every_rating() -> None:
    votes, _ = synthetic_votes(6, 2000, seed=1)
    free, anchored = bradley_terry(votes), bradley_terry(votes, anchor={"model-002": 1114.0})
    assert anchored["model-002"] == pytest.approx(1114.0)
    shift = 1114.0 - free["model-002"]
    assert all(anchored[m] == pytest.approx(free[m] + shift) for m in free)
    two = bradley_terry(votes, anchor={"model-002": 1114.0, "model-003": 1000.0})  # least-squares shift
    assert two["model-002"] - 1114.0 == pytest.approx(-(two["model-003"] - 1000.0))
    board = leaderboard(votes, rounds=10, anchor={"model-002": 1114.0}, robustness=False).table
    row = board.filter(pl.col("model") == "model-002").row(0, named=True)
    assert row["lower"] == pytest.approx(1114.0)
    assert row["upper"] == pytest.approx(1114.0)
    with pytest.raises(ConfigError, match="Did you mean 'model-002'"):
        bradley_terry(votes, anchor={"model-02": 1114.0})


def test_scale_base_and_initial_rating() -> None:
    votes = pl.DataFrame(
        {"model_a": ["x"] * 3, "model_b": ["y"] * 3, "winner": ["model_a", "model_a", "model_b"]}
    )
    r = bradley_terry(votes)  # x scores 2 of 3: R_x - R_y = 400 log10(2)
    assert r["x"] - r["y"] == pytest.approx(400 * math.log10(2), abs=1e-6)
    assert (r["x"] + r["y"]) / 2 == pytest.approx(1000)
    r = bradley_terry(votes, scale=173.7, base=math.e, init_rating=1500)
    assert r["x"] - r["y"] == pytest.approx(173.7 * math.log(2), abs=1e-6)
    assert (r["x"] + r["y"]) / 2 == pytest.approx(1500)


def test_both_kinds_of_tie_are_half_a_win() -> None:
    base = {"model_a": ["x", "x", "x"], "model_b": ["y", "y", "y"]}
    a = bradley_terry(pl.DataFrame({**base, "winner": ["model_a", "tie", "model_b"]}))
    b = bradley_terry(pl.DataFrame({**base, "winner": ["model_a", "tie (bothbad)", "model_b"]}))
    assert a == b
    assert a["x"] == pytest.approx(a["y"])


# ---- properties --------------------------------------------------------------------------------------

MODELS = ("alpha", "beta", "gamma", "delta", "epsilon")


@st.composite
def vote_tables(draw: st.DrawFn) -> pl.DataFrame:
    """3-5 models; a tie between neighbours in a cycle keeps the graph connected and every rating finite."""
    n = draw(st.integers(3, 5))
    models = MODELS[:n]
    rows = [(models[i], models[(i + 1) % n], "tie") for i in range(n)]
    pair = st.tuples(st.sampled_from(models), st.sampled_from(models)).filter(lambda p: p[0] != p[1])
    for (a, b), w in draw(
        st.lists(st.tuples(pair, st.sampled_from(["model_a", "model_b", "tie"])), max_size=30)
    ):
        rows.append((a, b, w))
    return pl.DataFrame(rows, schema=["model_a", "model_b", "winner"], orient="row")


SWAP = {"model_a": "model_b", "model_b": "model_a", "tie": "tie", "tie (bothbad)": "tie (bothbad)"}


@settings(max_examples=60, deadline=None)
@given(votes=vote_tables(), flips=st.lists(st.booleans(), min_size=40, max_size=40))
def test_swapping_sides_with_the_winner_changes_nothing(votes: pl.DataFrame, flips: list[bool]) -> None:
    flip = pl.Series(flips[: votes.height])
    swapped = votes.select(
        model_a=pl.when(flip).then("model_b").otherwise("model_a"),
        model_b=pl.when(flip).then("model_a").otherwise("model_b"),
        winner=pl.when(flip).then(pl.col("winner").replace_strict(SWAP)).otherwise("winner"),
    )
    assert bradley_terry(swapped) == bradley_terry(votes)  # the same cells: bit-identical


@settings(max_examples=60, deadline=None)
@given(votes=vote_tables())
def test_renaming_models_only_renames_ratings(votes: pl.DataFrame) -> None:
    rename = {m: f"z-{m[::-1]}" for m in MODELS}  # a different sort order
    renamed = votes.with_columns(pl.col("model_a", "model_b").replace_strict(rename))
    before, after = bradley_terry(votes), bradley_terry(renamed)
    assert all(after[rename[m]] == pytest.approx(r, abs=1e-6) for m, r in before.items())


@settings(max_examples=60, deadline=None)
@given(votes=vote_tables(), shift=st.floats(-50, 50))
def test_a_constant_added_to_all_strengths_is_centred_away(votes: pl.DataFrame, shift: float) -> None:
    battles = battles_from_votes(votes)
    theta = fit_strengths(battles)
    again = fit_strengths(battles, start=theta + shift)
    assert np.allclose(again, theta, atol=1e-8)
    assert abs(theta.mean()) < 1e-9


def test_expand_helper_round_trips(llmfao_counts: pl.DataFrame) -> None:
    assert expand(llmfao_counts).height == llmfao_counts["count"].sum()
