"""The leaderboard: rank rule, provisional models, online Elo, style control, robustness of the top."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from gencommons.arena.ratings import (
    STYLE_FEATURES,
    Battles,
    battles_from_votes,
    bradley_terry,
    fit_strengths,
    leaderboard,
    markdown_counts,
    online_elo,
    ranks,
    read_votes,
    style_covariates,
    synthetic_votes,
    votes_to_change_top,
)
from gencommons.arena.ratings.robustness import top_changed
from gencommons.errors import InputDataError


def test_rank_is_one_plus_models_entirely_above() -> None:
    lower = np.array([100.0, 90.0, 50.0, 40.0])
    upper = np.array([120.0, 110.0, 95.0, 60.0])
    # model 2 (upper 95): only model 0's lower bound (100) is above it; model 3 (upper 60): 0, 1 and
    # not 2 (lower 50 < 60)
    assert ranks(lower, upper).tolist() == [1, 1, 2, 3]
    # a provisional model never pushes another down
    assert ranks(lower, upper, ranked=np.array([False, True, True, True])).tolist() == [1, 1, 1, 2]


def test_provisional_threshold_and_table_columns() -> None:
    votes, _ = synthetic_votes(6, 3000, seed=2, popularity=1.5)
    board = leaderboard(votes, rounds=20, min_votes=700, robustness=False)
    table = board.table
    assert table.columns == [
        "rank",
        "model",
        "rating",
        "lower",
        "upper",
        "votes",
        "provisional",
        "online_elo",
    ]
    assert (table["provisional"] == (table["votes"] < 700)).all()
    assert table["provisional"].any()
    assert not table["provisional"].all()
    assert table["rating"].is_sorted(descending=True)
    assert ((table["lower"] <= table["rating"]) & (table["rating"] <= table["upper"])).all()
    assert table["votes"].sum() == 2 * votes.height
    d = board.to_dict()
    assert d["votes"] == 3000
    assert len(d["models"]) == 6
    assert d["robustness"] is None


def test_bootstrap_is_seeded() -> None:
    votes, _ = synthetic_votes(5, 1000, seed=4)
    a = leaderboard(votes, rounds=30, seed=5, robustness=False).table
    assert a.equals(leaderboard(votes, rounds=30, seed=5, robustness=False).table)
    assert not a.equals(leaderboard(votes, rounds=30, seed=6, robustness=False).table)


def test_online_elo_by_hand() -> None:
    votes = pl.DataFrame(
        {
            "model_a": ["x", "y", "x"],
            "model_b": ["y", "z", "z"],
            "winner": ["model_a", "tie (bothbad)", "model_b"],
        }
    )
    r = {"x": 1000.0, "y": 1000.0, "z": 1000.0}
    for a, b, w in votes.iter_rows():
        e = 1 / (1 + 10 ** ((r[b] - r[a]) / 400))
        s = {"model_a": 1.0, "model_b": 0.0}.get(w, 0.5)
        r[a], r[b] = r[a] + 4 * (s - e), r[b] - 4 * (s - e)
    assert online_elo(votes) == pytest.approx(r)
    # with a count column a row stands for that many votes in a row; tstamp orders the votes
    counts = pl.DataFrame({"model_a": ["x"], "model_b": ["y"], "winner": ["model_a"], "count": [3]})
    assert online_elo(counts) == online_elo(pl.concat([counts.drop("count")] * 3))
    ordered = votes.with_columns(tstamp=pl.Series([3, 1, 2]))
    assert online_elo(ordered) == online_elo(votes[[1, 2, 0]])


# ---- style control -----------------------------------------------------------------------------------


def test_style_control_recovers_a_planted_length_bias() -> None:
    """Verbose models win more than their strength says; style control gives back their strength and the bias."""
    rng = np.random.default_rng(0)
    n, votes_n, beta = 10, 30_000, 0.6
    truth = rng.normal(0, 80, n)
    truth -= truth.mean()
    verbosity = np.exp(rng.normal(0, 0.8, n))  # typical answer length per model (relative)
    a = rng.integers(0, n, votes_n)
    b = (a + rng.integers(1, n, votes_n)) % n
    length = lambda m: np.round(300 * verbosity[m] * np.exp(rng.normal(0, 0.3, votes_n)))
    names = np.array([f"m{i}" for i in range(n)])
    table = pl.DataFrame({"model_a": names[a], "model_b": names[b], "len_a": length(a), "len_b": length(b)})
    z = style_covariates(table, features=("len",))[:, 0]
    logit = (truth[a] - truth[b]) * math.log(10) / 400 + beta * z
    table = table.with_columns(
        winner=pl.Series(np.where(rng.random(votes_n) < 1 / (1 + np.exp(-logit)), "model_a", "model_b"))
    )

    styled = leaderboard(
        table, rounds=0, style_control=True, features=("len",), robustness=False, online=False
    )
    assert styled.style_coefficients["len"] == pytest.approx(beta, abs=0.05)
    rating = dict(styled.table.select("model", "rating").iter_rows())
    plain = bradley_terry(table)
    err_styled = max(abs(rating[f"m{i}"] - 1000 - truth[i]) for i in range(n))
    err_plain = max(abs(plain[f"m{i}"] - 1000 - truth[i]) for i in range(n))
    assert err_styled < 15 < 3 * err_styled < err_plain


def test_style_features_from_answer_text() -> None:
    counts = markdown_counts(pl.Series(["## Plan\n1. one\n2. **two**\n* three", "plain words here", None]))
    assert counts.to_dicts() == [
        {"len": 15, "header": 1, "list": 3, "bold": 1},
        {"len": 3, "header": 0, "list": 0, "bold": 0},
        {"len": 0, "header": 0, "list": 0, "bold": 0},
    ]
    table = pl.DataFrame({"model_a": ["x", "y"], "model_b": ["y", "x"], "winner": ["model_a", "tie"],
                          "answer_a": ["# A\n- a", "b"], "answer_b": ["b", "# A\n- a"]})  # fmt: skip
    z = style_covariates(table)
    assert np.allclose(z[0], -z[1])  # the same battle seen from the other side
    with pytest.raises(InputDataError, match="style control needs column"):
        style_covariates(table.drop("answer_b"))


def test_style_features_from_chatbot_arena_conv_metadata(tmp_path: Path) -> None:
    """Chatbot Arena's released tables carry the features in conv_metadata (nested counts, summed); read
    from a Parquet struct or from JSON text, they give the same covariates as flat columns."""
    rng = np.random.default_rng(1)
    n = 40
    flat = {f"{f}_{s}": rng.integers(0, 30, n) for f in STYLE_FEATURES for s in "ab"}

    def side(s: str, i: int, h: str, bold: str) -> dict[str, object]:
        lists = int(flat[f"list_{s}"][i])
        return {
            f"sum_assistant_{s}_tokens": int(flat[f"len_{s}"][i]),
            f"header_count_{s}": {
                f"h{k}": int(flat[f"header_{s}"][i]) if f"h{k}" == h else 0 for k in range(1, 7)
            },
            f"list_count_{s}": {"ordered": lists - lists // 2, "unordered": lists // 2},
            f"bold_count_{s}": {"**": 0, "__": 0} | {bold: int(flat[f"bold_{s}"][i])},
        }

    meta = [side("a", i, "h1", "**") | side("b", i, "h2", "__") for i in range(n)]
    base = {"model_a": ["x", "y"] * (n // 2), "model_b": ["y", "x"] * (n // 2), "winner": ["model_a"] * n}
    want = style_covariates(pl.DataFrame(base | flat))
    as_struct = pl.DataFrame(base | {"conv_metadata": meta})
    assert np.allclose(style_covariates(as_struct), want)
    as_text = pl.DataFrame(base | {"conv_metadata": [json.dumps(m) for m in meta]})
    assert np.allclose(style_covariates(as_text), want)
    as_struct.write_parquet(tmp_path / "arena.parquet")
    board = leaderboard(read_votes(tmp_path / "arena.parquet"), rounds=0, style_control=True, online=False)
    assert set(board.style_coefficients) == set(STYLE_FEATURES)


def test_style_control_votes_and_counts_identical() -> None:
    votes = pl.DataFrame(
        {"model_a": ["x", "x", "y", "y", "x", "z"], "model_b": ["y", "y", "x", "z", "z", "x"],
         "winner": ["model_a", "model_a", "tie", "model_b", "model_a", "model_a"],
         "len_a": [10, 10, 3, 5, 8, 2], "len_b": [5, 5, 9, 5, 4, 6]}
    )  # fmt: skip
    counts = votes.group_by(votes.columns, maintain_order=True).len("count")
    kw = {"rounds": 10, "style_control": True, "features": ("len",), "online": False}
    assert leaderboard(votes, **kw).table.equals(leaderboard(counts, **kw).table)


# ---- robustness ----------------------------------------------------------------------------------------


def brute_force(battles: Battles) -> int | None:
    """The exact fewest removals (votes in one cell are interchangeable: enumerate counts per cell)."""
    n = len(battles.models)
    top = int(np.nanargmax(fit_strengths(battles)[:n]))
    options = sorted(itertools.product(*(range(c + 1) for c in battles.count)), key=sum)
    for removed in options:  # the first one removes nothing
        fit = fit_strengths(battles.with_counts(battles.count - np.array(removed)))
        if top_changed(fit, top, n) is not None:
            return sum(removed)
    return None


def small_case(seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [("a", "b", "tie"), ("b", "c", "tie"), ("a", "c", "tie")]  # every rating stays finite
    for _ in range(int(rng.integers(4, 8))):
        x, y = rng.choice(["a", "b", "c"], 2, replace=False)
        rows.append((x, y, str(rng.choice(["model_a", "model_b", "tie"], p=[0.5, 0.3, 0.2]))))
    return pl.DataFrame(rows, schema=["model_a", "model_b", "winner"], orient="row")


def test_robustness_against_brute_force() -> None:
    exact_hits = 0
    for seed in range(20):
        battles = battles_from_votes(small_case(seed))
        found, exact = votes_to_change_top(battles), brute_force(battles)
        assert exact is not None
        assert found.votes is not None
        assert found.votes >= exact  # an upper bound...
        exact_hits += found.votes == exact
        # ... that is verified: removing the reported votes changes the top
        removed = {(r["model_a"], r["model_b"], r["winner"]): r["count"] for r in found.removed}
        winner = {1.0: "model_a", 0.5: "tie", 0.0: "model_b"}
        cut = [removed.get((battles.models[a], battles.models[b], winner[y]), 0)
               for a, b, y in zip(battles.a, battles.b, battles.y, strict=True)]  # fmt: skip
        fit = fit_strengths(battles.with_counts(battles.count - np.array(cut)))
        top, new_top = battles.models.index(found.top), battles.models.index(found.new_top)
        assert top_changed(fit, top, len(battles.models)) is not None
        assert fit[new_top] >= fit[top] - 1e-9  # level with or above (several may be level)
    # not guaranteed, but measured: the search finds the exact minimum on 60 of 60 such cases
    assert exact_hits == 20


def test_robustness_of_a_two_model_board() -> None:
    votes = pl.DataFrame(
        {"model_a": ["x"] * 8, "model_b": ["y"] * 8, "winner": ["model_a"] * 5 + ["model_b"] * 3}
    )
    r = votes_to_change_top(battles_from_votes(votes))
    # 5-3: removing 2 of x's wins makes it 3-3, a tie at the top
    assert (r.top, r.votes, r.new_top) == ("x", 2, "y")
    assert r.removed == [{"model_a": "x", "model_b": "y", "winner": "model_a", "count": 2}]
    assert r.fraction == pytest.approx(2 / 8)
