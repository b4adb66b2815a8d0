"""Vote quality: which votes to flag, and why. Flagged votes are kept and shown; the leaderboard is
computed with and without them.

Per vote:

* ``identity`` — an answer says which model it is (``I am ChatGPT``, ``as a Llama model``, a model's name
  from the arena's list) or the prompt asks the model who it is: the vote is no longer blind.

Per voter (``flag_voters``), with a Bonferroni-corrected level ``alpha / voters`` so that with honest
voters the chance of flagging anyone is at most ``alpha``:

* ``same_side`` — a two-sided binomial test of the share of decisive votes for the left answer (A)
  against 1/2: sides are shuffled by the sampler, so an honest voter picks A half of the time whatever
  they prefer;
* ``against_consensus`` — a person-fit statistic (the standardised log-likelihood ``l_z`` of item
  response theory, Drasgow, Levine & Williams 1985): under the Bradley–Terry fit of all votes, a vote
  for side s has probability ``p``; a voter's log-likelihood ``L = Σ log p`` has mean
  ``Σ p log p + (1 − p) log(1 − p)`` and variance ``Σ p(1 − p) log²(p / (1 − p))`` if they vote like
  the crowd; ``z = (L − mean) / sd`` far below 0 means far more disagreement than chance (one-sided).
  The crowd's fit leaves the voter out (``leave_one_out``, default when at most 500 voters are tested),
  else a voter's own votes pull the fit towards them and hide their disagreement;
* ``too_fast`` — more than half of a voter's votes came sooner after the answers were complete than it
  takes to read them (``min_read_s`` plus the answers' characters at ``read_chars_per_s``), when the
  vote table carries ``seconds_to_vote`` and ``answer_chars``.

Voters with fewer than ``min_votes`` decisive votes are not tested (too little evidence).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import polars as pl

_SELF = re.compile(
    r"\b(I am|I'm|I’m|as an?|my name is|je suis|ich bin|soy)\s+(an? )?(AI )?(model |assistant )?(called |named )?"
    r"(chat ?gpt|gpt-?\d\w*|claude|gemini|bard|llama|mistral|mixtral|qwen|deepseek|phi|gemma|falcon|vicuna|command ?r)\b",
    re.IGNORECASE,
)
_ASKS_IDENTITY = re.compile(
    r"\b(who|what) (are|r) (you|u)\b|\bwhich (model|llm|ai) are you\b|\bwhat('s| is) your (name|model)\b"
    r"|\bqui es-tu\b|\bquel (modèle|est ton nom)\b|\bwer bist du\b|\bquién eres\b|\bкто ты\b",
    re.IGNORECASE,
)


def identity_flag(prompts: Iterable[str], answers: Iterable[str], model_names: Iterable[str] = ()) -> bool:
    """True when an answer reveals a model's identity or a prompt asks for it."""
    if any(_ASKS_IDENTITY.search(p) for p in prompts):
        return True
    names = [re.escape(n) for n in model_names if len(n) >= 3]
    named = re.compile(r"\b(" + "|".join(names) + r")\b", re.IGNORECASE) if names else None
    return any(_SELF.search(a) or (named is not None and named.search(a)) for a in answers)


def flag_voters(
    votes: Any,
    *,
    voter: str = "voter",
    alpha: float = 0.01,
    min_votes: int = 20,
    min_read_s: float = 2.0,
    read_chars_per_s: float = 60.0,
    leave_one_out: bool | None = None,
) -> pl.DataFrame:
    """One row per voter: votes, decisive votes, share of A, the tests' statistics, and ``flags``.

    ``votes`` has ``model_a``, ``model_b``, ``winner`` (Chatbot Arena's vocabulary) and the voter column;
    optionally ``seconds_to_vote`` and ``answer_chars``.
    """
    from scipy.stats import binomtest, norm

    from gencommons.arena.ratings.bradley_terry import bradley_terry

    df = votes if isinstance(votes, pl.DataFrame) else pl.DataFrame(votes)
    df = df.with_columns(pl.col(voter).cast(pl.String))

    def prob_a(fit_on: pl.DataFrame, rows: pl.DataFrame) -> np.ndarray:
        """P(A wins) of ``rows`` under the Bradley–Terry fit of ``fit_on`` (0.5 for unseen models)."""
        ratings = bradley_terry(fit_on.select("model_a", "model_b", "winner"))
        r = rows["model_a"].replace_strict(ratings, default=1000.0, return_dtype=pl.Float64).to_numpy()
        q = rows["model_b"].replace_strict(ratings, default=1000.0, return_dtype=pl.Float64).to_numpy()
        return np.asarray(1.0 / (1.0 + 10.0 ** ((q - r) / 400.0)))

    win = df["winner"].to_numpy()
    decisive = (win == "model_a") | (win == "model_b")
    voters = df[voter].to_numpy()
    fast = None
    if "seconds_to_vote" in df.columns and "answer_chars" in df.columns:
        need = min_read_s + df["answer_chars"].to_numpy() / read_chars_per_s
        fast = df["seconds_to_vote"].to_numpy() < need
    ids = sorted(set(voters.tolist()), key=str)
    tested = [v for v in ids if int(np.sum(decisive & (voters == v))) >= min_votes]
    level = alpha / max(1, len(tested))
    loo = len(tested) <= 500 if leave_one_out is None else leave_one_out
    p_a = prob_a(df, df)
    if loo:
        for v in tested:
            mine = voters == v
            p_a[mine] = prob_a(df.filter(pl.col(voter) != v), df.filter(pl.col(voter) == v))
    p_chosen = np.clip(np.where(win == "model_a", p_a, 1.0 - p_a), 1e-9, 1 - 1e-9)
    z_crit = float(norm.ppf(level))
    rows = []
    for v in ids:
        mine = voters == v
        d = decisive & mine
        n_dec = int(d.sum())
        n_a = int(np.sum((win == "model_a") & mine))
        row: dict[str, Any] = {
            "voter": str(v),
            "votes": int(mine.sum()),
            "decisive": n_dec,
            "share_a": n_a / n_dec if n_dec else None,
            "side_p": None,
            "consensus_z": None,
            "fast_share": float(fast[mine].mean()) if fast is not None and mine.any() else None,
            "flags": [],
        }
        if n_dec >= min_votes:
            row["side_p"] = float(binomtest(n_a, n_dec, 0.5).pvalue)
            pp = np.clip(p_a[d], 1e-9, 1 - 1e-9)  # each decisive vote: a Bernoulli "picks A" with p_a
            loglik = float(np.log(p_chosen[d]).sum())
            mean = float(np.sum(pp * np.log(pp) + (1 - pp) * np.log1p(-pp)))
            var = float(np.sum(pp * (1 - pp) * np.log(pp / (1 - pp)) ** 2))
            row["consensus_z"] = (loglik - mean) / math.sqrt(var) if var > 0 else 0.0
            if row["side_p"] < level:
                row["flags"].append("same_side")
            if row["consensus_z"] < z_crit:
                row["flags"].append("against_consensus")
            if row["fast_share"] is not None and row["fast_share"] > 0.5:
                row["flags"].append("too_fast")
        rows.append(row)
    return pl.DataFrame(rows, schema_overrides={"flags": pl.List(pl.String), "voter": pl.String})
