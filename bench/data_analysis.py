"""Know-your-data speed: n-gram index build vs just tokenizing, count/search latency vs corpus size,
against the floors (a numpy linear scan of the token stream, Python ``re`` over the text) and the
``infini-gram`` package when it installs here; ``gencommons data stats`` vs the same figures in pandas.

    .venv/bin/python bench/data_analysis.py                       # 10M and 30M tokens, ~5 minutes
    .venv/bin/python bench/data_analysis.py --sizes 10,30,100     # adds 100M tokens (~10 more minutes)
    .venv/bin/python bench/data_analysis.py --sizes 1 --queries 50   # smoke test, ~30 s

Corpus: every record of ``shared/data/text/*.jsonl.gz`` (20,560 documents, 47 MB) repeated until it
holds the wanted number of tokens; copy c > 0 is varied so that copies do not repeat each other's
n-grams exactly: odd copies swap each pair of adjacent words, and every copy c tags the words "the",
"de", "and", "of" with ``~c``. Written once as Parquet under ``bench/results/scratch/data_analysis/``.
Tokenizer: a byte-level BPE of 8,192 tokens trained on the first 5 MB of the corpus (``tokenizers``).

Queries: ``--queries`` n-grams of 1-8 tokens taken at random positions of the token stream (so most
occur), plus as many random token sequences (mostly absent). Latency = wall time per call, median and
p90, on a warm page cache (the index files were just written). Results: ``bench/results/data_analysis.{json,md}``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))
SHARED = ROOT.parent / "shared" / "data" / "text"
RESULTS = HERE / "results"
SCRATCH = RESULTS / "scratch" / "data_analysis"
IG_VENV = HERE / ".venv-infinigram"


def _load() -> pl.DataFrame:
    frames = []
    for f in sorted(SHARED.glob("*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh]
        frames.append(
            pl.DataFrame(
                [{k: r.get(k) for k in ("id", "text", "source", "license", "lang", "url")} for r in rows]
            )
        )
    return pl.concat(frames, how="diagonal_relaxed")


def _vary(df: pl.DataFrame, c: int) -> pl.DataFrame:
    t = pl.col("text")
    if c % 2:
        t = t.str.replace_all(r"(\w+)(\s+)(\w+)", "${3}${2}${1}")
    t = t.str.replace_all(r"\b(the|de|and|of)\b", f"${{1}}~{c}")
    return df.with_columns(t.alias("text"), (pl.col("id") + f"#{c}").alias("id"))


def tokenizer() -> str:
    folder = SCRATCH / "tok"
    if not (folder / "tokenizer.json").exists():
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        folder.mkdir(parents=True, exist_ok=True)
        texts, size = [], 0
        for t in _load()["text"].to_list():
            texts.append(t)
            size += len(t)
            if size > 5e6:
                break
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        tok.train_from_iterator(
            texts, trainers.BpeTrainer(vocab_size=8192, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        )
        tok.save(str(folder / "tokenizer.json"))
    return str(folder)


def corpus(million: int, tok_path: str) -> Path:
    """A dataset folder (data/*.parquet) of about ``million`` M tokens."""
    out = SCRATCH / f"corpus-{million}M"
    if (out / "done").exists():
        return out
    from gencommons.data.analysis.tokens import load_tokenizer, token_counts

    base = _load()
    tok, _ = load_tokenizer(tok_path)
    per_copy = int(token_counts(tok, base["text"].to_list()).sum())
    (out / "data").mkdir(parents=True, exist_ok=True)
    need = million * 1_000_000
    c, have = 0, 0
    while have < need:
        df = _vary(base, c) if c else base
        if have + per_copy > need:  # the last copy: a prefix of the documents
            df = df.head(max(1, int(len(df) * (need - have) / per_copy)))
        pq.write_table(df.to_arrow(), out / "data" / f"part-{c:05d}.parquet", row_group_size=2048)
        have += per_copy if len(df) == len(base) else int(per_copy * len(df) / len(base))
        c += 1
    (out / "done").write_text(str(have))
    return out


def _tokenize_only(ds: Path, tok_path: str) -> tuple[float, int]:
    """Read and tokenize every document, as the index build does, and nothing else."""
    from gencommons.data.analysis.dataset import iter_tables, open_dataset
    from gencommons.data.analysis.tokens import load_tokenizer

    tok, _ = load_tokenizer(tok_path)
    t0, n = time.perf_counter(), 0
    for t in iter_tables(open_dataset(str(ds)), columns=["id", "text"]):
        enc = tok.encode_batch_fast(t["text"].to_pylist(), add_special_tokens=False)
        n += sum(len(e.ids) for e in enc)
    return time.perf_counter() - t0, n


def _latency(fn: Any, queries: list[Any]) -> dict[str, float]:
    ts = []
    for q in queries:
        t0 = time.perf_counter()
        fn(q)
        ts.append((time.perf_counter() - t0) * 1e3)
    return {"median_ms": float(np.median(ts)), "p90_ms": float(np.percentile(ts, 90)), "n": len(ts)}


def _queries(ix: Any, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    s = ix.shards[0]
    stream = np.frombuffer(s.raw, dtype=f">u{ix.width}")
    out = []
    while len(out) < n:
        p, k = int(rng.integers(0, s.n - 8)), int(rng.integers(1, 9))
        q = stream[p : p + k].astype(np.int64)
        if (q != ix.sep).all():
            out.append(q)
    vocab = ix.manifest["tokenizer"]["vocab_size"]
    out += [rng.integers(0, vocab, int(rng.integers(2, 6))) for _ in range(n)]
    return out


def _infinigram_available() -> str | None:
    py = IG_VENV / "bin" / "python"
    if not py.exists():
        return "bench/.venv-infinigram does not exist (python3 -m venv bench/.venv-infinigram && bench/.venv-infinigram/bin/pip install infini-gram)"
    r = subprocess.run(
        [str(py), "-c", "import infini_gram.engine"], capture_output=True, text=True, check=False
    )
    return (
        None
        if r.returncode == 0
        else "infini-gram does not import here: " + (r.stderr.strip().splitlines() or ["?"])[-1]
    )


def bench_size(million: int, tok_path: str, args: argparse.Namespace) -> dict[str, Any]:
    from gencommons.data.analysis.index import NgramIndex, build_index

    ds = corpus(million, tok_path)
    res: dict[str, Any] = {"target_tokens": million * 1_000_000}
    t_tok, n_tok = _tokenize_only(ds, tok_path)
    res.update(tokens=n_tok, tokenize_s=t_tok, tokenize_tokens_per_s=n_tok / t_tok)
    print(f"[{million}M] tokenize only: {t_tok:.1f} s ({n_tok / t_tok / 1e6:.2f} M tokens/s)", flush=True)
    t0 = time.perf_counter()
    m = build_index(str(ds), str(ds / "index"), tokenizer=tok_path, overwrite=True)
    t_ix = time.perf_counter() - t0
    res.update(
        index_s=t_ix,
        index_tokens_per_s=m["units"] / t_ix,
        index_vs_tokenize=t_ix / t_tok,
        index_bytes_per_token=m["bytes_per_unit"],
        index_sort_s=m["sort_seconds"],
        shards=len(m["shards"]),
    )
    print(
        f"[{million}M] index: {t_ix:.1f} s = {t_ix / t_tok:.2f}× tokenizing, {m['bytes_per_unit']:.2f} B/token",
        flush=True,
    )
    if args.bytes_index:
        t0 = time.perf_counter()
        mb = build_index(str(ds), str(ds / "index-bytes"), overwrite=True)
        res.update(
            bytes_index_s=time.perf_counter() - t0,
            bytes_index_units=mb["units"],
            bytes_index_bytes_per_unit=mb["bytes_per_unit"],
            bytes_index_bytes_per_token=mb["bytes"] / m["units"],
        )
    ix = NgramIndex(str(ds / "index"))
    rng = np.random.default_rng(0)
    qs = _queries(ix, args.queries, rng)
    res["count"] = _latency(ix.count, qs)
    res["search"] = _latency(lambda q: ix.search(q, limit=10, context=20), qs[: args.queries])
    res["longest_suffix"] = _latency(ix.longest_suffix, qs[:20])
    res["found_fraction"] = float(np.mean([ix.count(q) > 0 for q in qs]))
    print(
        f"[{million}M] count median {res['count']['median_ms']:.3f} ms, search {res['search']['median_ms']:.3f} ms",
        flush=True,
    )
    # floors: a vectorized numpy scan of the token stream; Python re over the concatenated text
    stream = np.concatenate(
        [np.frombuffer(s.raw, dtype=f">u{ix.width}").astype(np.uint16) for s in ix.shards]
    )

    def scan(q: np.ndarray) -> int:
        hit = stream[: len(stream) - len(q) + 1] == q[0]
        for j in range(1, len(q)):
            hit &= stream[j : len(stream) - len(q) + 1 + j] == q[j]
        return int(hit.sum())

    few = qs[:5]
    res["linear_scan"] = _latency(scan, few)
    assert all(scan(q) == ix.count(q) for q in few[:3])
    text = "\n".join(pl.read_parquet(ds / "data", columns=["text"])["text"].to_list())
    phrases = [ix._decode(q) for q in few]
    res["python_re"] = _latency(lambda p: sum(1 for _ in re.finditer(re.escape(p), text)), phrases)
    print(
        f"[{million}M] floors: numpy scan {res['linear_scan']['median_ms']:.0f} ms, re {res['python_re']['median_ms']:.0f} ms",
        flush=True,
    )
    if args.no_infinigram or not args.bytes_index:
        res["infini_gram"] = {"skipped": "--no-infinigram or --no-bytes-index"}
    else:
        phrases = [p for p in (ix._decode(q) for q in qs) if "\ufffd" not in p]
        res["infini_gram"] = _infinigram(ds, NgramIndex(str(ds / "index-bytes")), phrases)
        print(f"[{million}M] infini-gram: {res['infini_gram']}"[:400], flush=True)
    return res


def _infinigram(ds: Path, ix_bytes: Any, phrases: list[str]) -> dict[str, Any]:
    """infini-gram (its own venv, its own process) over the same documents in byte mode, vs our bytes index."""
    why = _infinigram_available()
    if why:
        return {"unavailable": why}
    jdir = ds / "jsonl"
    if not (jdir / "done").exists():
        jdir.mkdir(exist_ok=True)
        for f in sorted((ds / "data").glob("*.parquet")):
            pl.read_parquet(f, columns=["text"]).write_ndjson(jdir / (f.stem + ".jsonl"))
        (jdir / "done").write_text("")
    qpath = SCRATCH / "ig-queries.json"
    qs = [list(p.encode("utf-8")) for p in phrases]
    qpath.write_text(json.dumps(qs))
    out = SCRATCH / "ig-out.json"
    save = ds / "index-infinigram"
    shutil.rmtree(save, ignore_errors=True)  # a fresh build each run: its time is measured
    save.mkdir()
    subprocess.run([str(IG_VENV / "bin" / "python"), str(HERE / "_infinigram_driver.py"), str(jdir.resolve()),
                    str(save.resolve()), str(qpath), str(out)], check=True)  # fmt: skip
    r = json.loads(out.read_text())
    if "error" in r:
        return {"unavailable": "infini-gram indexing failed: " + r["error"][-300:]}
    ours = [ix_bytes.count(np.array(q, dtype=np.uint8)) for q in qs]
    r["same_counts"] = ours == r.pop("counts")
    r["bytes_per_byte"] = r["index_bytes"] / ix_bytes.manifest["units"]
    r["ours_bytes_count"] = _latency(lambda q: ix_bytes.count(np.array(q, dtype=np.uint8)), qs)
    return r


def bench_stats(million: int, tok_path: str) -> dict[str, Any]:
    """gencommons stats (no n-grams / with 1-3-grams) vs pandas computing the same figures exactly."""
    import pandas as pd

    from gencommons.data.analysis.stats import StatsConfig, compute_stats

    ds = corpus(million, tok_path)
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    s = compute_stats(str(ds), StatsConfig(ngram_sizes=()))
    out["gencommons_s"] = time.perf_counter() - t0
    out["documents"] = s["documents"]
    t0 = time.perf_counter()
    compute_stats(str(ds), StatsConfig(ngram_sizes=(1, 2, 3)))
    out["gencommons_ngrams_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    df = pd.read_parquet(ds / "data", columns=["text", "source", "license", "lang", "url"])
    chars = df["text"].str.len()
    words = df["text"].str.count(r"\w+")
    fig = {
        "documents": len(df),
        "characters": int(chars.sum()),
        "bytes": int(df["text"].str.encode("utf-8").str.len().sum()),
        "words": int(words.sum()),
        "q_chars": chars.quantile([0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]).tolist(),
        "q_words": words.quantile([0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]).tolist(),
        "lang": df["lang"].value_counts().head(50).to_dict(),
        "source": df["source"].value_counts().to_dict(),
        "license": df["license"].value_counts().to_dict(),
        "domain": df["url"]
        .str.extract(r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?([^/:?#]+)")[0]
        .str.lower()
        .value_counts()
        .head(50)
        .to_dict(),
    }
    out["pandas_s"] = time.perf_counter() - t0
    assert fig["characters"] == s["characters"]
    out["words_pandas_vs_gencommons"] = [
        fig["words"],
        s["words"],
    ]  # Python re's \w differs a little from Rust's
    out["docs_per_s"] = {
        "gencommons": s["documents"] / out["gencommons_s"],
        "pandas": len(df) / out["pandas_s"],
        "gencommons_with_ngrams": s["documents"] / out["gencommons_ngrams_s"],
    }
    print(
        f"[{million}M] stats: gencommons {out['gencommons_s']:.1f} s ({out['gencommons_ngrams_s']:.1f} s with n-grams), pandas {out['pandas_s']:.1f} s",
        flush=True,
    )
    return out


def _md(res: dict[str, Any]) -> str:
    rows = [
        "| corpus | tokens | tokenize only | index build | build / tokenize | B/token | count median (p90) | search median | ∞-gram median | numpy scan | Python re |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for k, r in res["sizes"].items():
        rows.append(
            f"| {k} | {r['tokens'] / 1e6:.1f} M | {r['tokenize_s']:.1f} s ({r['tokenize_tokens_per_s'] / 1e6:.2f} M/s) | "
            f"{r['index_s']:.1f} s ({r['index_tokens_per_s'] / 1e6:.2f} M/s) | {r['index_vs_tokenize']:.2f}× | "
            f"{r['index_bytes_per_token']:.2f} | {r['count']['median_ms']:.3f} ({r['count']['p90_ms']:.3f}) ms | "
            f"{r['search']['median_ms']:.2f} ms | {r['longest_suffix']['median_ms']:.2f} ms | "
            f"{r['linear_scan']['median_ms']:.0f} ms | {r['python_re']['median_ms']:.0f} ms |"
        )
    out = "\n".join(rows) + "\n"
    for k, r in res["sizes"].items():
        if "bytes_index_s" in r:
            out += (
                f"\nbytes index at {k}: {r['bytes_index_units'] / 1e6:.0f} M bytes in {r['bytes_index_s']:.1f} s, "
                f"{r['bytes_index_bytes_per_unit']:.2f} B per byte = {r['bytes_index_bytes_per_token']:.1f} B per token\n"
            )
        ig = r["infini_gram"]
        if "build_s" in ig:
            out += (
                f"\ninfini-gram 2.6 at {k} (UTF-8 bytes, `--token_dtype u8`, 2 CPUs): build {ig['build_s']:.1f} s vs "
                f"ours {r['bytes_index_s']:.1f} s; {ig['bytes_per_byte']:.2f} B per byte vs ours "
                f"{r['bytes_index_bytes_per_unit']:.2f}; count median {ig['count']['median_ms']:.3f} ms vs ours "
                f"{ig['ours_bytes_count']['median_ms']:.3f} ms ({ig['count']['n']} queries, same counts: {ig['same_counts']})\n"
            )
        else:
            out += f"\ninfini-gram at {k}: {ig}\n"
    st = res.get("stats")
    if st:
        out += (
            "\n| stats at " + res["stats_size"] + " | seconds | docs/s |\n|---|--:|--:|\n"
            f"| gencommons stats (no n-grams) | {st['gencommons_s']:.1f} | {st['docs_per_s']['gencommons']:,.0f} |\n"
            f"| gencommons stats (+ top 1/2/3-grams) | {st['gencommons_ngrams_s']:.1f} | {st['docs_per_s']['gencommons_with_ngrams']:,.0f} |\n"
            f"| pandas, same figures (exact quantiles, no n-grams) | {st['pandas_s']:.1f} | {st['docs_per_s']['pandas']:,.0f} |\n"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10,30", help="Corpus sizes in millions of tokens.")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--no-bytes-index", dest="bytes_index", action="store_false")
    ap.add_argument("--no-infinigram", action="store_true")
    ap.add_argument(
        "--stats-size", type=int, default=10, help="Corpus (M tokens) for the stats comparison; 0 skips."
    )
    args = ap.parse_args()
    SCRATCH.mkdir(parents=True, exist_ok=True)
    tok_path = tokenizer()
    res: dict[str, Any] = {"sizes": {}, "cpu_count": os.cpu_count()}
    for m in (int(x) for x in args.sizes.split(",")):
        res["sizes"][f"{m}M"] = bench_size(m, tok_path, args)
    if args.stats_size:
        res["stats_size"] = f"{args.stats_size}M"
        res["stats"] = bench_stats(args.stats_size, tok_path)
    (RESULTS / "data_analysis.json").write_text(json.dumps(res, indent=2))
    md = _md(res)
    (RESULTS / "data_analysis.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
