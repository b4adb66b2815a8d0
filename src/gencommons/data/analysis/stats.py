"""``gencommons data stats``: what is in a dataset, in one streaming pass with bounded memory.

Per document: characters (code points), UTF-8 bytes, words (``\\w+`` runs) and, with a Hugging Face
tokenizer, tokens; their totals and distributions (``QuantileSketch``: quantiles within 1 % relative
error). Categories (language, source, licence, URL domain, the drop reasons of steps run in
``mode: annotate``) and the top word n-grams go through ``HeavyHitters`` (at most ``top_k`` counters;
each count is low by at most ``max_error``, stored with it). Numeric metadata columns (quality scores)
get a quantile sketch each. Exact duplicates are measured: the distinct texts under ``exact_dedup``'s
normalization (lowercased, whitespace collapsed; xxh3-64), counted exactly up to 10^6 distinct texts
and by HyperLogLog beyond (0.41 % relative standard error, ``DistinctCounter``), so the rate says how
much ``exact_dedup`` would remove. Near-duplicate rates and per-step drop counts come from the
manifest, when the dataset has one and the dedup steps ran. The bounds are proven in ``sketch.py``. Memory: one batch of ``batch_rows`` documents
plus the sketches (a few MB) per worker, whatever the dataset's size.

**Parallel.** Each part of the dataset (``parallel.py``) is summarized by one task, locally or on Ray;
the sketches are mergeable, so the parts' summaries are merged in part order (sums exact, the quantile
and heavy-hitter bounds unchanged). The parts depend on the dataset only, so every executor and number
of workers gives the same statistics. ``sample_ngrams`` counts every k-th batch of each part.

Example:
    >>> import pyarrow as pa, pyarrow.parquet as pq, tempfile, os
    >>> d = tempfile.mkdtemp(); pq.write_table(pa.table({"id": ["a"], "text": ["Hi there."]}), f"{d}/x.parquet")
    >>> compute_stats(d)["words"]
    2
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from gencommons.data.analysis.dataset import AnalysisDataset, Part, iter_tables, open_dataset
from gencommons.data.analysis.parallel import Parallel, parts_of, report, run_tasks
from gencommons.data.analysis.sketch import DistinctCounter, HeavyHitters, QuantileSketch
from gencommons.data.analysis.tokens import WORD, load_tokenizer, token_counts
from gencommons.data.dedup.exact import ExactDedupParams, normalized_hashes

log = logging.getLogger(__name__)
_EXACT = ExactDedupParams.model_validate({})  # exact_dedup's defaults: what the duplicate rate means

# metadata columns that are categories (first present wins for language)
CATEGORIES = {"language": ("language", "lang"), "source": ("source",), "license": ("license",)}
NOT_SCORES = {"id", "text", "url", "meta", "timestamp"}
DEDUP_STEPS = ("exact_dedup", "minhash_dedup", "substring_dedup")
_HOST = r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?([^/:?#]+)"


@dataclass(frozen=True, kw_only=True)
class StatsConfig:
    """What ``compute_stats`` measures."""

    tokenizer: str | None = None  # a HF tokenizer folder; None counts words (\w+ runs) only
    ngram_sizes: tuple[int, ...] = (1, 2, 3)  # top word n-grams of these sizes
    top_k: int = 2000  # counters per heavy-hitters summary (error <= items / (top_k + 1))
    show: int = 50  # top entries kept in the JSON per summary
    alpha: float = 0.01  # relative error of the quantiles
    batch_rows: int = 2048
    sample_ngrams: int = 1  # count n-grams in every k-th batch only (1 = all); faster on huge data


@dataclass
class _State:
    cfg: StatsConfig
    lengths: dict[str, QuantileSketch] = field(default_factory=dict)
    cats: dict[str, HeavyHitters] = field(default_factory=dict)
    scores: dict[str, QuantileSketch] = field(default_factory=dict)
    reasons: dict[str, HeavyHitters] = field(default_factory=dict)
    ngrams: dict[int, HeavyHitters] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    distinct: DistinctCounter = field(default_factory=DistinctCounter)

    def sketch(self, group: dict[str, QuantileSketch], name: str) -> QuantileSketch:
        if name not in group:
            group[name] = QuantileSketch(alpha=self.cfg.alpha)
        return group[name]

    def hh(self, group: dict[Any, HeavyHitters], name: Any) -> HeavyHitters:
        if name not in group:
            group[name] = HeavyHitters(k=self.cfg.top_k)
        return group[name]

    def count(self, name: str, n: int) -> None:
        self.totals[name] = self.totals.get(name, 0) + n

    def merge(self, other: _State) -> None:
        """Add another part's summary (same config) into this one."""
        for name, n in other.totals.items():
            self.count(name, n)
        self.distinct.merge(other.distinct)
        for mine, theirs in ((self.lengths, other.lengths), (self.scores, other.scores)):
            for k, q in theirs.items():
                self.sketch(mine, k).merge(q)
        hh: list[tuple[dict[Any, HeavyHitters], dict[Any, HeavyHitters]]] = [
            (self.cats, other.cats),
            (self.reasons, other.reasons),
            (self.ngrams, other.ngrams),
        ]
        for mine_h, theirs_h in hh:
            for key, h in theirs_h.items():
                self.hh(mine_h, key).merge(h)


def _categories(ds: AnalysisDataset) -> dict[str, str]:
    """Category name -> the column holding it in this dataset."""
    out = {}
    for name, cols in CATEGORIES.items():
        for c in cols:
            if c in ds.columns:
                out[name] = c
                break
    return out


def domains(urls: pl.Series) -> pl.Series:
    """The lowercased host of each URL without a leading ``www.`` (null when there is none)."""
    host = urls.cast(pl.String).str.extract(_HOST, 1).str.to_lowercase()
    return host.str.strip_chars_end(".").str.replace(r"^www\d*\.", "")


def ngram_strings(texts: pl.Series, n: int) -> pl.Series:
    """Every word n-gram (lowercased ``\\w+`` words joined by a space) of every document."""
    df = pl.DataFrame(
        {"w": texts.fill_null("").str.extract_all(WORD).list.eval(pl.element().str.to_lowercase())}
    )
    df = df.with_row_index("d").explode("w").drop_nulls("w")
    cols = [pl.col("w").shift(-j) for j in range(n)]
    same = pl.col("d").shift(-(n - 1)) == pl.col("d")
    return df.select(pl.when(same).then(pl.concat_str(cols, separator=" ")).alias("g"))["g"].drop_nulls()


def _add_batch(st: _State, t: pa.Table, cats: dict[str, str], tok: Any, batch_no: int) -> None:
    text = pl.Series(t["text"]).cast(pl.String)
    n = len(text)
    st.count("documents", n)
    st.count("null_texts", text.null_count())
    text = text.fill_null("")
    chars = text.str.len_chars().to_numpy()
    nwords = text.str.count_matches(WORD).to_numpy()
    st.count("empty_documents", int((text.str.strip_chars().str.len_chars() == 0).sum()))
    st.count("characters", int(chars.sum()))
    st.count("bytes", int(text.str.len_bytes().sum()))
    st.count("words", int(nwords.sum()))
    st.distinct.add(normalized_hashes(text.to_arrow(), _EXACT))
    st.sketch(st.lengths, "characters").add(chars)
    st.sketch(st.lengths, "words").add(nwords)
    if tok is not None:
        ntok = token_counts(tok, text.to_list())
        st.count("tokens", int(ntok.sum()))
        st.sketch(st.lengths, "tokens").add(ntok)
    for name, col in cats.items():
        if col in t.column_names:
            st.hh(st.cats, name).add(pl.Series(t[col]).cast(pl.String).fill_null("(unknown)"))
    if "url" in t.column_names:
        d = domains(pl.Series(t["url"]))
        st.count("with_url", int(d.is_not_null().sum()))
        st.hh(st.cats, "domain").add(d)
    for col in t.column_names:
        if col in NOT_SCORES or col in cats.values():
            continue
        typ = t.schema.field(col).type
        if pa.types.is_integer(typ) or pa.types.is_floating(typ):
            st.sketch(st.scores, col).add(t[col].to_numpy(zero_copy_only=False).astype(np.float64))
        elif col.endswith("_reason") and (pa.types.is_string(typ) or pa.types.is_large_string(typ)):
            st.hh(st.reasons, col).add(pl.Series(t[col]).cast(pl.String).fill_null("(kept)"))
    if batch_no % st.cfg.sample_ngrams == 0:
        for k in st.cfg.ngram_sizes:
            st.hh(st.ngrams, k).add(ngram_strings(text, k))


def dedup_rates(manifest: dict[str, Any] | None) -> dict[str, Any]:
    """Per dedup step that ran: documents in, dropped, the rate, and the step's own counts."""
    out: dict[str, Any] = {}
    for s in (manifest or {}).get("steps", []):
        if s.get("name") in DEDUP_STEPS:
            dropped = sum(s.get("dropped", {}).values())
            out[s["name"]] = {
                "docs_in": s["docs_in"],
                "dropped": dropped,
                "rate": dropped / s["docs_in"] if s["docs_in"] else 0.0,
                "counts": s.get("counts", {}),
            }
    return out


def _pipeline(manifest: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [
        {k: s.get(k) for k in ("name", "kind", "mode", "docs_in", "docs_out", "dropped", "counts")}
        for s in (manifest or {}).get("steps", [])
    ]


def _summarize(task: tuple[AnalysisDataset, Part, StatsConfig]) -> dict[str, Any]:
    """One task: the summary (``_State``) of one part of the dataset."""
    ds, part, cfg = task
    tok = load_tokenizer(cfg.tokenizer)[0] if cfg.tokenizer else None
    cats = _categories(ds)
    st = _State(cfg)
    for i, t in enumerate(iter_tables(ds, batch_rows=cfg.batch_rows, part=part)):
        _add_batch(st, t, cats, tok, i)
        report(t.num_rows)
    return {"docs_read": st.totals.get("documents", 0), "state": st}


def compute_stats(
    path: str,
    cfg: StatsConfig | None = None,
    *,
    where: Parallel | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """The statistics of the dataset at ``path`` as a JSON-ready dict (see the module docstring),
    computed on the executor of ``where`` (default: in this process).

    ``progress(rows_done, rows_total)`` is called after each part (``rows_total`` is 0 when unknown).
    """
    cfg = cfg or StatsConfig()
    t0 = time.perf_counter()
    ds = open_dataset(path)
    tok_id = load_tokenizer(cfg.tokenizer)[1] if cfg.tokenizer else None  # a bad folder fails here, once
    st = _State(cfg)
    task_cfg = replace(cfg, tokenizer=os.path.abspath(cfg.tokenizer)) if cfg.tokenizer else cfg
    tasks = [(ds, p, task_cfg) for p in parts_of(ds)]
    for rec in run_tasks(_summarize, tasks, where or Parallel(), progress=progress, total=_row_count(ds)):
        st.merge(rec["state"])
    m = ds.manifest
    tot = st.totals
    return {
        "dataset": ds.path,
        "name": ds.name,
        "files": len(ds.files),
        "has_manifest": m is not None,
        "content_id": (m or {}).get("content_id"),
        "documents": tot.get("documents", 0),
        "empty_documents": tot.get("empty_documents", 0),
        "null_texts": tot.get("null_texts", 0),
        "characters": tot.get("characters", 0),
        "bytes": tot.get("bytes", 0),
        "words": tot.get("words", 0),
        "tokens": tot.get("tokens"),
        "tokenizer": {"path": cfg.tokenizer, "id": tok_id} if cfg.tokenizer else None,
        "documents_with_url": tot.get("with_url", 0),
        "lengths": {k: s.summary() for k, s in st.lengths.items()},
        "categories": {k: h.summary(show=cfg.show) for k, h in st.cats.items()},
        "scores": {k: s.summary() for k, s in sorted(st.scores.items())},
        "annotations": {k: h.summary(show=cfg.show) for k, h in sorted(st.reasons.items())},
        "ngrams": {str(k): h.summary(show=cfg.show) for k, h in sorted(st.ngrams.items())},
        "ngram_sample": cfg.sample_ngrams,
        "duplicates": {"exact": _exact_duplicates(st.distinct, tot.get("documents", 0))},
        "dedup": dedup_rates(m),
        "pipeline": _pipeline(m),
        "licenses": (m or {}).get("licenses"),
        "sketches": {"quantile_relative_error": cfg.alpha, "heavy_hitters_k": cfg.top_k},
        "seconds": round(time.perf_counter() - t0, 3),
    }


def _exact_duplicates(c: DistinctCounter, docs: int) -> dict[str, Any]:
    """Documents whose normalized text an earlier document already had (what exact_dedup removes)."""
    distinct = min(c.estimate(), docs)
    dup = docs - distinct
    return {"duplicate_documents": dup, "rate": dup / docs if docs else 0.0} | c.summary()


def _row_count(ds: AnalysisDataset) -> int:
    """Rows of the Parquet files from their footers (0 when some files are JSONL)."""
    if not all(f.endswith(".parquet") for f in ds.files):
        return 0
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(f).metadata.num_rows for f in ds.files)
