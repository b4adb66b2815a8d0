"""Vote quality: planted bad voters are flagged and honest ones are not; real crowd votes; identity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from gencommons.arena.quality import flag_voters, identity_flag
from gencommons.arena.ratings.synthetic import synthetic_votes

LLMFAO = Path(__file__).resolve().parents[1] / "data" / "votes" / "llmfao" / "llmfao-votes-by-worker.csv"


def _with_planted_voters(seed: int = 0) -> pl.DataFrame:
    votes, truth = synthetic_votes(8, 6000, seed=seed, spread=150.0)
    rng = np.random.default_rng(seed)
    honest = votes.with_columns(pl.Series("voter", [f"h{i}" for i in rng.integers(0, 40, votes.height)]))
    pairs = votes.head(300).select("model_a", "model_b")
    better_a = np.array([truth[a] > truth[b] for a, b in pairs.iter_rows()])
    planted = [
        pairs.with_columns(winner=pl.lit("model_a"), voter=pl.lit("always-left")),
        pairs.with_columns(
            winner=pl.Series(np.where(better_a, "model_b", "model_a")), voter=pl.lit("contrarian")
        ),
    ]
    return pl.concat([honest, *planted], how="vertical_relaxed")


def test_planted_voters_are_flagged_honest_ones_are_not() -> None:
    report = flag_voters(_with_planted_voters())
    flags = {r["voter"]: r["flags"] for r in report.iter_rows(named=True)}
    assert flags["always-left"] == ["same_side"]
    assert "against_consensus" in flags["contrarian"]
    honest_flagged = [v for v, f in flags.items() if v.startswith("h") and f]
    assert honest_flagged == []  # Bonferroni at alpha 0.01 over 42 voters


def test_too_fast_needs_timing_columns() -> None:
    votes = _with_planted_voters().with_columns(
        seconds_to_vote=pl.when(pl.col("voter") == "h1").then(0.5).otherwise(30.0), answer_chars=pl.lit(600)
    )
    report = flag_voters(votes)
    by = {r["voter"]: r for r in report.iter_rows(named=True)}
    assert "too_fast" in by["h1"]["flags"]
    assert by["h1"]["fast_share"] == 1.0
    assert "too_fast" not in by["h2"]["flags"]


def test_real_crowd_votes() -> None:
    """llmfao (8,931 votes by 124 crowd workers): the flags follow their own tests' thresholds."""
    votes = pl.read_csv(LLMFAO)
    report = flag_voters(votes, alpha=0.01)
    tested = report.filter(pl.col("side_p").is_not_null())
    assert tested.height == 56  # workers with at least 20 decisive votes
    level = 0.01 / tested.height
    same = tested.filter(pl.col("flags").list.contains("same_side"))
    assert same.height > 0
    assert (same["side_p"] < level).all()
    from scipy.stats import norm

    against = tested.filter(pl.col("flags").list.contains("against_consensus"))
    assert (against["consensus_z"] < norm.ppf(level)).all()
    assert 0 < report.filter(pl.col("flags").list.len() > 0).height <= tested.height // 5
    assert report.filter(pl.col("side_p").is_null())["flags"].list.len().sum() == 0  # untested: unflagged


def test_identity() -> None:
    assert identity_flag(["hi"], ["Hello! I am ChatGPT, a model by OpenAI."])
    assert identity_flag(["hi"], ["As an AI model called Llama, I think..."])
    assert identity_flag(["Which model are you?"], ["I'd rather not say."])
    assert identity_flag(["Qui es-tu ?"], ["Je suis un assistant."])
    assert identity_flag(["hi"], ["This is tiny-llama speaking"], ["tiny-llama", "big-one"])
    assert not identity_flag(["Tell me about llamas"], ["Llamas live in the Andes."])
    assert not identity_flag(["hi"], ["hello there"], ["ab"])  # names under 3 characters are not searched


def test_review_in_the_arena_database_and_identity_at_vote_time(tmp_path: Path) -> None:
    from gencommons.arena import store
    from gencommons.arena.db import Vote, make_engine, sessions, upgrade

    url = f"sqlite:///{tmp_path / 'a.db'}"
    upgrade(url)
    engine = make_engine(url)
    every = _with_planted_voters()
    honest = every.filter(pl.col("voter").str.starts_with("h")).head(2000)
    votes = pl.concat([honest, every.filter(~pl.col("voter").str.starts_with("h"))])
    with sessions(engine)() as s:
        store.sync_models(
            s, [(m, "http://x", None) for m in sorted(set(votes["model_a"]) | set(votes["model_b"]))]
        )
        for voter in sorted(set(votes["voter"])):
            store.create_user(s, voter, consent_version="1", share_prompts=False)
        for r in votes.iter_rows(named=True):
            battle, turn = store.create_battle(
                s,
                user_id=r["voter"],
                mode="battle",
                model_a=r["model_a"],
                model_b=r["model_b"],
                ip_hash=None,
                prompt="q",
            )
            store.save_answer(s, turn.id, "a", "x", "done")
            store.save_answer(
                s, turn.id, "b", "I am Claude, an AI assistant." if r["voter"] == "h3" else "y", "done"
            )
            store.record_vote(s, battle, r["winner"], ip_hash=None)
        identity = s.query(Vote).filter(Vote.user_id == "h3").all()
        assert identity
        assert all(v.excluded and v.flags == '["identity"]' for v in identity)
        res = store.review_votes(s, alpha=0.01)
        assert res["flagged_voters"] >= 1
        left = s.query(Vote).filter(Vote.user_id == "always-left").all()
        assert len(left) == 300
        assert all(v.excluded and "same_side" in (v.flags or "") for v in left)
        assert all(
            v.excluded for v in s.query(Vote).filter(Vote.user_id == "h3").all()
        )  # identity flags stay
        n_all = len(store.rating_votes(s, include_excluded=True))
        assert len(store.rating_votes(s)) == n_all - res["excluded_votes"]
    engine.dispose()
