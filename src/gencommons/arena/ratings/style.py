"""Style covariates for style-controlled ratings: answer length and markdown features.

Chatbot Arena's style control (https://blog.lmarena.ai/blog/2024/style-control/) adds, for every battle,
the normalized differences between the two answers' style features to the Bradley–Terry logit, so that
the model ratings measure what is left once length and formatting are accounted for. Here:

* **features** (``STYLE_FEATURES``): ``len`` (answer length in tokens), ``header`` (markdown headers),
  ``list`` (list items) and ``bold`` (bold spans). A vote table gives them as columns ``len_a``,
  ``len_b``, ``header_a``, ``header_b``, ... (any names: ``features=("len", "emoji")`` reads ``emoji_a``
  and ``emoji_b``), or gives the answers' text as ``answer_a`` / ``answer_b``, from which
  :func:`markdown_counts` counts them (tokens there: words and punctuation marks, ``\\w+|[^\\w\\s]``,
  a tokenizer-free stand-in for Chatbot Arena's tiktoken count), or — as Chatbot Arena's released
  vote tables do — in a ``conv_metadata`` column (a struct, or its JSON text) with
  ``sum_assistant_{a,b}_tokens`` and the counts ``header_count_{a,b}`` (h1–h6), ``list_count_{a,b}``
  (ordered, unordered) and ``bold_count_{a,b}`` (``**``, ``__``), each summed over its fields.
* **covariate** per feature and vote: ``(f_a - f_b) / (f_a + f_b)`` (0 when both are 0), then divided
  by its root mean square over the votes. Chatbot Arena also subtracts the mean; we do not, so that
  swapping the sides of a vote flips the sign of its covariates exactly and no hidden intercept (a
  position bias) enters the model. The scaling only changes the units of the coefficients.

The coefficients (``Leaderboard.style_coefficients``) are in logits per root-mean-square unit: a
positive ``len`` coefficient means voters prefer the longer answer, other things equal.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from gencommons.errors import InputDataError

STYLE_FEATURES = ("len", "header", "list", "bold")

_PATTERNS = {
    "len": r"\w+|[^\w\s]",
    "header": r"(?m)^#{1,6}\s+\S",
    "list": r"(?m)^\s*(?:[-*+]|\d+[.)])\s+\S",
    "bold": r"\*\*[^*\n]+\*\*|__[^_\n]+__",
}


def markdown_counts(texts: pl.Series, *, features: Sequence[str] = STYLE_FEATURES) -> pl.DataFrame:
    """Count each style feature in each text (vectorized regex counts).

    Example:
        >>> markdown_counts(pl.Series(["# Title\\n- **a**\\n- b"])).row(0)
        (10, 1, 2, 1)
    """
    unknown = [f for f in features if f not in _PATTERNS]
    if unknown:
        raise InputDataError(
            f"cannot count {', '.join(unknown)} in answers (known: {', '.join(_PATTERNS)}); "
            "give them as columns <feature>_a and <feature>_b",
            path="<votes>",
            reason="missing_column",
        )
    texts = texts.cast(pl.String).fill_null("")
    return pl.DataFrame({f: texts.str.count_matches(_PATTERNS[f]) for f in features})


_CONV_METADATA = {"len": "sum_assistant_{}_tokens", "header": "header_count_{}", "list": "list_count_{}",
                  "bold": "bold_count_{}"}  # fmt: skip


def conv_metadata_counts(meta: pl.Series, side: str, features: Sequence[str]) -> dict[str, pl.Series]:
    """The features Chatbot Arena's ``conv_metadata`` holds for one side (a struct or JSON text);
    a struct of counts (headers h1–h6, ordered/unordered lists, ``**``/``__`` bold) is summed."""
    if meta.dtype == pl.String:
        meta = meta.str.json_decode(infer_schema_length=None)
    if not isinstance(meta.dtype, pl.Struct):
        return {}
    fields = {f.name: f.dtype for f in meta.dtype.fields}
    out = {}
    for f in features:
        name = _CONV_METADATA.get(f, "").format(side)
        if name not in fields:
            continue
        col = meta.struct.field(name)
        if isinstance(fields[name], pl.Struct):
            col = (
                pl.DataFrame(col.struct.unnest())
                .select(pl.sum_horizontal(pl.all().cast(pl.Float64).fill_null(0.0)))
                .to_series()
            )
        out[f] = col.cast(pl.Float64).fill_null(0.0)
    return out


def style_covariates(
    df: pl.DataFrame, *, features: Sequence[str] = STYLE_FEATURES, source: str = "<votes>"
) -> np.ndarray:
    """(votes, k) covariates: normalized differences of side a minus side b, scaled to unit RMS."""
    sides = {}
    for side in ("a", "b"):
        have = [f for f in features if f"{f}_{side}" in df.columns]
        missing = [f for f in features if f not in have]
        counted = pl.DataFrame()
        if missing and "conv_metadata" in df.columns:
            meta = conv_metadata_counts(df["conv_metadata"], side, missing)
            have += list(meta)
            missing = [f for f in missing if f not in meta]
            df = df.with_columns(**{f"{f}_{side}": v for f, v in meta.items()})
        if missing:
            if f"answer_{side}" not in df.columns:
                need = ", ".join(f"{f}_{side}" for f in missing)
                raise InputDataError(
                    f"style control needs column(s) {need} or the answer text answer_{side}",
                    path=source,
                    reason="missing_column",
                )
            counted = markdown_counts(df[f"answer_{side}"], features=missing)
        sides[side] = np.column_stack(
            [
                (df[f"{f}_{side}"] if f in have else counted[f]).cast(pl.Float64).fill_null(0.0).to_numpy()
                for f in features
            ]
        )
    fa, fb = sides["a"], sides["b"]
    total = fa + fb
    diff = np.divide(fa - fb, total, out=np.zeros_like(total), where=total != 0)
    weight = df["count"].cast(pl.Float64).to_numpy() if "count" in df.columns else np.ones(df.height)
    rms = np.sqrt((weight @ diff**2) / max(weight.sum(), 1.0))
    return diff / np.where(rms > 0, rms, 1.0)
