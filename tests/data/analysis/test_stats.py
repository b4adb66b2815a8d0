"""Stats against exact references: the sketches within their proven bounds (hypothesis), the totals and
categories of a real dataset against a plain polars computation, datasets without a manifest."""

from __future__ import annotations

import collections
import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gencommons.data.analysis.sketch import DistinctCounter, HeavyHitters, QuantileSketch
from gencommons.data.analysis.stats import StatsConfig, compute_stats, domains, ngram_strings
from gencommons.errors import UserError

floats = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(floats, min_size=1, max_size=300), st.integers(1, 5), st.sampled_from([0.01, 0.05]))
def test_quantiles_within_relative_error(values: list[float], parts: int, alpha: float) -> None:
    """Any split into batches, merged in any order: every quantile within alpha of the exact one."""
    v = np.array(values)
    sketches = [QuantileSketch(alpha=alpha) for _ in range(parts)]
    for i, chunk in enumerate(np.array_split(v, parts)):
        sketches[i].add(chunk)
    s = sketches[-1]
    for other in sketches[:-1]:
        s.merge(other)
    for q in (0.0, 0.01, 0.25, 0.5, 0.75, 0.99, 1.0):
        exact = float(np.quantile(v, q, method="lower"))
        tol = alpha * abs(exact) + (1e-9 if abs(exact) < 1e-9 else 0)
        assert abs(s.quantile(q) - exact) <= tol * (1 + 1e-9), (q, s.quantile(q), exact)
    assert s.count == len(v)
    assert s.min == v.min()
    assert s.max == v.max()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=0, max_size=400), st.integers(1, 12), st.integers(1, 6))
def test_heavy_hitters_bound(items: list[int], k: int, parts: int) -> None:
    """f - max_error <= f_hat <= f for every key; every key above N/(k+1) is kept; exact when not pruned."""
    true = collections.Counter(items)
    hs = [HeavyHitters(k=k) for _ in range(parts)]
    for i, chunk in enumerate(np.array_split(np.array(items, dtype=np.int64), parts)):
        hs[i].add(pl.Series("x", [str(x) for x in chunk], dtype=pl.String))
    h = hs[0]
    for other in hs[1:]:
        h.merge(other)
    est = dict(h.top(10**6))
    assert len(est) <= k
    assert h.n == len(items)
    assert h.max_error <= len(items) / (k + 1) + 1e-9
    for key, f in true.items():
        f_hat = est.get(str(key), 0)
        assert f - h.max_error - 1e-9 <= f_hat <= f
        if f > len(items) / (k + 1):
            assert str(key) in est
    if not h.pruned:
        assert est == {str(a): b for a, b in true.items()}


@settings(max_examples=60, deadline=None)
@given(items=st.lists(st.integers(0, 300), max_size=400), parts=st.integers(1, 5), limit=st.integers(1, 500))
def test_distinct_counter_is_exact_below_its_limit(items: list[int], parts: int, limit: int) -> None:
    whole = DistinctCounter(exact_limit=limit)
    merged = DistinctCounter(exact_limit=limit)
    for k in range(parts):
        c = DistinctCounter(exact_limit=limit)
        c.add(np.array(items[k::parts], dtype=np.uint64))
        merged.merge(c)
    whole.add(np.array(items, dtype=np.uint64))
    for c in (whole, merged):
        if len(set(items)) <= limit:
            assert c.exact
            assert c.estimate() == len(set(items))
        else:
            assert not c.exact


@pytest.mark.parametrize("n", [1_500_000, 4_000_000])
def test_distinct_counter_hyperloglog_error(n: int) -> None:
    """Past the exact limit: within 4 standard errors (0.41 % each) of the truth, also after merging
    counters of overlapping halves."""
    rng = np.random.default_rng(n)
    h = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64)
    a, b = DistinctCounter(), DistinctCounter()
    a.add(h[: n * 2 // 3])
    b.add(h[n // 3 :])
    a.merge(b)
    assert not a.exact
    assert abs(a.estimate() / n - 1) <= 4 * 1.04 / 2**8


def _words(text: str) -> list[str]:
    return [w.lower() for w in re.findall(r"\w+", text)]


def test_stats_match_a_plain_computation(dataset_dir: Path, tokenizer_dir: Path) -> None:
    s = compute_stats(str(dataset_dir), StatsConfig(tokenizer=str(tokenizer_dir), top_k=50, batch_rows=64))
    df = pl.read_parquet(dataset_dir / "data")
    texts = df["text"].to_list()
    assert s["documents"] == len(texts)
    assert s["files"] == 2
    assert s["has_manifest"]
    assert s["characters"] == sum(len(t) for t in texts)
    assert s["bytes"] == sum(len(t.encode()) for t in texts)
    assert s["words"] == sum(len(re.findall(r"\w+", t)) for t in texts)
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    assert s["tokens"] == sum(len(tok.encode(t, add_special_tokens=False).ids) for t in texts)
    # exact length quantiles vs the sketch's 1 % bound
    chars = np.array([len(t) for t in texts])
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p5", 0.05)):
        exact = np.quantile(chars, q, method="lower")
        assert abs(s["lengths"]["characters"]["quantiles"][name] - exact) <= 0.01 * exact
    # categories: exact while distinct values fit the counters
    langs = s["categories"]["language"]
    assert langs["exact"]
    assert dict(langs["top"]) == dict(collections.Counter(df["lang"].to_list()).most_common(50))
    lic = dict(s["categories"]["license"]["top"])
    assert lic == dict(collections.Counter(df["license"].to_list()))
    dom = dict(s["categories"]["domain"]["top"])
    assert sum(dom.values()) == df["url"].is_not_null().sum() == s["documents_with_url"]
    assert set(dom) == {f"site{u}.example.org" for u in range(7)}
    # top n-grams within the Misra–Gries bound (top_k=50 forces pruning)
    true = collections.Counter(" ".join(w[i : i + 2]) for w in map(_words, texts) for i in range(len(w) - 1))
    true_words = collections.Counter(w for t in texts for w in _words(t))
    bi = s["ngrams"]["2"]
    assert not bi["exact"]
    assert bi["total"] == sum(true.values())
    for g, c in bi["top"]:
        assert true[g] - bi["max_error"] <= c <= true[g]
    assert [g for g, f in true.items() if f > bi["total"] / 51] == [
        g for g, _ in bi["top"] if true[g] > bi["total"] / 51
    ]
    uni = s["ngrams"]["1"]
    for g, c in uni["top"]:
        assert true_words[g] - uni["max_error"] <= c <= true_words[g]
    # exact duplicates, measured: what a plain dict of normalized texts finds
    norm = [" ".join(t.lower().split()) for t in texts]
    dup = len(norm) - len(set(norm))
    ex = s["duplicates"]["exact"]
    assert ex["exact"]
    assert ex["duplicate_documents"] == dup
    assert ex["distinct"] == len(set(norm))
    # score column, manifest-derived dedup rate
    assert s["scores"]["score"]["count"] == len(texts)
    assert s["dedup"]["exact_dedup"]["dropped"] == 990 - len(texts)
    json.dumps(s)  # JSON-ready


def test_no_manifest_and_jsonl(tmp_path: Path, records: list[dict]) -> None:
    f = tmp_path / "x.jsonl"
    f.write_text("".join(json.dumps({"id": r["id"], "text": r["text"]}) + "\n" for r in records[:20]))
    s = compute_stats(str(f))
    assert s["documents"] == 20
    assert not s["has_manifest"]
    assert s["dedup"] == {}
    assert s["tokens"] is None
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["", None]}), tmp_path / "e.parquet")
    s = compute_stats(str(tmp_path / "e.parquet"))
    assert s["documents"] == 2
    assert s["empty_documents"] == 2
    assert s["null_texts"] == 1


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file"):
        compute_stats(str(tmp_path / "missing"))
    with pytest.raises(UserError, match="no dataset here"):
        compute_stats(str(tmp_path))
    pq.write_table(pa.table({"id": ["a"], "body": ["x"]}), tmp_path / "nt.parquet")
    with pytest.raises(UserError, match="no column 'text'"):
        compute_stats(str(tmp_path / "nt.parquet"))
    with pytest.raises(UserError, match="no tokenizer here"):
        compute_stats(str(tmp_path / "nt.parquet"), StatsConfig(tokenizer=str(tmp_path)))


def test_helpers() -> None:
    urls = pl.Series(["https://WWW.Example.com:80/a", "ftp://user@x.org", "not a url", None])
    assert domains(urls).to_list() == ["example.com", "x.org", None, None]
    assert ngram_strings(pl.Series(["A b, c", "d e"]), 2).to_list() == ["a b", "b c", "d e"]
