"""minhash_dedup: signatures estimate Jaccard, clusters equal a single-process reference whatever the
sharding, survivor policies, verification, reports, and odd input."""

from __future__ import annotations

import gzip
import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gencommons.data.dedup.minhash import (
    MinhashParams,
    band_keys,
    candidate_probability,
    optimal_bands_rows,
    shingle_hashes,
    signatures,
    token_hash,
)
from gencommons.data.pipeline import Pipeline
from gencommons.errors import ConfigError
from gencommons.lineage.manifest import read_manifest


def _words(n: int, rng: random.Random) -> list[str]:
    return [f"w{rng.randrange(3000)}" for _ in range(n)]


def _jaccard(a: str, b: str, n: int = 5) -> float:
    def sh(t: str) -> set[tuple[str, ...]]:
        w = t.lower().split()
        return {tuple(w[i : i + n]) for i in range(max(1, len(w) - n + 1))} if w else set()

    sa, sb = sh(a), sh(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 0.0


@pytest.mark.parametrize("hashing", ["minhash", "superminhash"])
def test_signature_agreement_estimates_jaccard(hashing: str) -> None:
    rng = random.Random(0)
    p = MinhashParams(num_perm=256, bands=16, rows=16, hashing=hashing)
    base = _words(400, rng)
    errors = []
    for k in range(0, 400, 20):  # replace k words: a sweep of true similarities
        other = list(base)
        for i in rng.sample(range(400), k):
            other[i] = f"x{rng.randrange(10**6)}"
        a, b = " ".join(base), " ".join(other)
        sh, off = shingle_hashes(pa.array([a, b]), p)
        sig = signatures(sh, off, p)
        errors.append(abs(float((sig[0] == sig[1]).mean()) - _jaccard(a, b)))
    assert max(errors) < 0.12  # 256 permutations: standard error ≤ 0.032
    assert float(np.mean(errors)) < 0.04


def _agreement_spread(hashing: str, union: int, jaccard: float, pairs: int = 400) -> tuple[float, float]:
    """Mean and standard deviation over ``pairs`` token-set pairs (``union`` tokens, the given Jaccard,
    a fresh seed each) of the fraction of 112 signature values that agree."""
    rng = np.random.default_rng(union)
    inter = round(jaccard * union)
    only = (union - inter) // 2
    fractions = []
    for trial in range(pairs):
        toks = rng.integers(0, 2**63, size=inter + 2 * only, dtype=np.uint64)
        a, b = toks[: inter + only], np.concatenate([toks[:inter], toks[inter + only :]])
        p = MinhashParams(hashing=hashing, seed=trial)
        sig = signatures(np.concatenate([a, b]), np.array([0, len(a), len(a) + len(b)]), p)
        fractions.append(float((sig[0] == sig[1]).mean()))
    return float(np.mean(fractions)), float(np.std(fractions, ddof=1))


@settings(max_examples=100, deadline=None)
@given(
    keys=st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=300, unique=True),
    order=st.randoms(use_true_random=False),
    hashing=st.sampled_from(["minhash", "superminhash"]),
    num_perm=st.integers(2, 130),
)
def test_signature_is_a_function_of_the_shingle_set(
    keys: list[int], order: random.Random, hashing: str, num_perm: int
) -> None:
    """Any order and any repeats of the same shingles give the same signature (SuperMinHash's early stop
    skips only offers that cannot lower a value): the set, then 20 shuffles of it with a few repeats."""
    p = MinhashParams(num_perm=num_perm, bands=1, rows=1, hashing=hashing)
    docs = [keys]
    for _ in range(20):
        shuffled = keys + order.sample(keys, k=min(len(keys), 5))
        order.shuffle(shuffled)
        docs.append(shuffled)
    off = np.cumsum([0] + [len(d) for d in docs])
    sig = signatures(np.array([k for d in docs for k in d], np.uint64), off, p)
    assert (sig == sig[0]).all()


@pytest.mark.parametrize("union", [40, 300])
def test_superminhash_has_the_lower_variance(union: int) -> None:
    """Both schemes are unbiased (values agree with probability J); independent permutations spread
    as the binomial sqrt(J(1 − J)/112), SuperMinHash's negatively correlated values less (Ertl 2017:
    most for sets not much larger than the signature). 400 pairs: the sd of an sd is ~3.5 %."""
    j = 0.8
    binomial = math.sqrt(j * (1 - j) / 112)
    mean, sd = _agreement_spread("minhash", union, j)
    assert abs(mean - j) < 4 * binomial / math.sqrt(400)
    assert 0.88 < sd / binomial < 1.12
    mean, sd = _agreement_spread("superminhash", union, j)
    assert abs(mean - j) < 4 * binomial / math.sqrt(400)
    assert sd / binomial < (0.8 if union == 40 else 0.9)


def test_s_curve_and_parameter_choice() -> None:
    assert candidate_probability(0.8, 14, 8) == pytest.approx(0.924, abs=1e-3)
    assert candidate_probability(0.85, 14, 8) == pytest.approx(0.988, abs=1e-3)
    b, r = optimal_bands_rows(0.8, 112)
    assert b * r <= 112
    assert candidate_probability(0.9, b, r) > 0.9
    assert candidate_probability(0.5, b, r) < 0.1
    assert MinhashParams(threshold=0.8).bands_rows == (b, r)  # a threshold alone picks bands × rows
    assert MinhashParams().bands_rows == (14, 8)  # FineWeb's default


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"bands": 20, "rows": 8}, "exceeds num_perm"),
        ({"keep": "score"}, "needs score_column"),
        ({"bands": 14}, "give both bands and rows, or neither"),
    ],
)
def test_param_errors(params: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MinhashParams(**params)


MIXED = [
    "",
    " \t\n ",
    "Ünïcödé ŞİR ΣΊΣΥΦΟΣ done_x 3.14 a\u200db",
    "日本語のテキスト、句読点。 and ASCII-words_with_underscores!",
    "Ελληνικά: λέξεις; Русский текст — слова… עברית (مرحبا) हिन्दी देवनागरी",
    "\u00a0nbsp\u2003em\u3000ideographic  spaces\u200bzero-width 👍🏽 emoji",
    "x",
]


def _one_token_shingle(h: int) -> int:
    """The shingle hash of a 1-gram: the token hash, mixed by the murmur3 finalizer."""
    from gencommons.data.dedup import minhash

    with np.errstate(over="ignore"):
        return int(minhash._finish_hash_py(np.uint64(h)))


@pytest.mark.parametrize("shingle", ["word", "char"])
def test_compiled_tokenizer_equals_polars_regex(shingle: str) -> None:
    """The tokens are exactly polars' ``\\w+`` runs (word) or characters with whitespace runs as one
    space (char), and each token's hash is :func:`token_hash` of its text (case-folded)."""
    import polars as pl

    p = MinhashParams(shingle=shingle, n=1)  # 1-grams: the shingle hashes are the token hashes
    sh, off = shingle_hashes(pa.array(MIXED), p)
    s = pl.Series(MIXED)
    if shingle == "word":
        tokens = s.str.extract_all(r"\w+")
    else:
        tokens = s.str.replace_all(r"\s+", " ").str.strip_chars().str.split("")
    assert np.diff(off).tolist() == tokens.list.len().fill_null(0).to_list()
    flat = tokens.explode().drop_nulls().to_list()
    assert sh.tolist() == [_one_token_shingle(token_hash(t, p.seed)) for t in flat]
    # the same as the reference kernel in plain Python
    from gencommons.data.dedup import _unicode, minhash

    arr = pa.array(MIXED, pa.large_string())
    offs = np.frombuffer(arr.buffers()[1], dtype=np.int64)
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)
    out, lengths = np.empty(len(data) + 1, np.uint64), np.zeros(len(MIXED), np.int64)
    fold, expansions = _unicode.fold_tables()
    with np.errstate(over="ignore"):
        n = minhash._tokens_kernel_py(
            data,
            offs,
            _unicode.classes(),
            fold,
            expansions,
            int(shingle == "char"),
            np.uint64(1),
            out,
            lengths,
        )
    assert [_one_token_shingle(h) for h in out[:n].tolist()] == sh.tolist()
    # lowercase: false hashes the code points as they are
    raw, _ = shingle_hashes(pa.array(MIXED), MinhashParams(shingle=shingle, n=1, lowercase=False))
    assert raw.tolist() == [_one_token_shingle(token_hash(t, p.seed, fold=False)) for t in flat]


def test_case_folding_matches_case_variants() -> None:
    """Unicode full case folding: case variants, Greek final sigma and ß hash alike, in one pass over
    the text as it is (no lowercased copy)."""
    p = MinhashParams(n=2)
    variants = [
        "Die Straße des ΟΔΥΣΣΕΑ",
        "DIE STRASSE DES οδυσσεα",
        "die strasse des ΟΔΥΣΣΕΑ",
        "die straße des οδυσσεας",
    ]
    sh, off = shingle_hashes(pa.array(variants), p)
    docs = [sh[off[i] : off[i + 1]].tolist() for i in range(len(variants))]
    assert docs[0] == docs[1] == docs[2]
    assert docs[3] != docs[0]  # a different word (ς vs nothing), not a case variant
    unfolded, _ = shingle_hashes(pa.array(variants[:2]), MinhashParams(n=2, lowercase=False))
    assert unfolded[:3].tolist() != unfolded[3:].tolist()


def test_fold_tables_are_pythons_casefold() -> None:
    """The shipped tables are ``str.casefold`` of this Python (regenerate ``FOLD`` and ``FOLD_MULTI``
    with ``fold_from_python()`` if its Unicode version changes), code point by code point."""
    from gencommons.data.dedup import _unicode

    runs, multi = _unicode.fold_from_python()
    assert runs == " ".join(_unicode.FOLD.split())
    assert multi == " ".join(_unicode.FOLD_MULTI.split())
    every = [chr(c) for c in range(_unicode.FOLD_LIMIT + 16) if not 0xD800 <= c < 0xE000]
    assert [_unicode.casefold(c) for c in every] == [c.casefold() for c in every]


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=80))
def test_word_shingles_are_caseless(text: str) -> None:
    """A text and its case-folded form (and its upper case, where that folds back) get the same word
    shingles: folding never moves a word boundary."""
    p = MinhashParams(n=2)
    forms = [text, text.casefold()] + ([text.upper()] if text.upper().casefold() == text.casefold() else [])
    sh, off = shingle_hashes(pa.array(forms), p)
    first = sh[off[0] : off[1]].tolist()
    for i in range(1, len(forms)):
        assert sh[off[i] : off[i + 1]].tolist() == first


def test_unicode_tables_match_polars() -> None:
    """The tokenizer's shipped ``\\w`` and ``\\s`` tables are polars' (regenerate ``_unicode.py`` with
    ``ranges_text(ranges_from_polars(...))`` if a polars upgrade changes its Unicode version)."""
    from gencommons.data.dedup import _unicode

    assert _unicode.ranges_text(_unicode.ranges_from_polars(r"\w")) == _unicode.WORD.strip()
    assert _unicode.ranges_text(_unicode.ranges_from_polars(r"\s")) == _unicode.SPACE.strip()


def test_short_empty_and_cjk_documents() -> None:
    p = MinhashParams()
    sh, off = shingle_hashes(pa.array(["", "   ", "two words", "one two three four five six"]), p)
    assert np.diff(off).tolist() == [0, 0, 1, 2]  # empty: none; shorter than n: one; else len - n + 1
    pc = MinhashParams(shingle="char", n=3)
    sh, off = shingle_hashes(pa.array(["日本語のテキスト", "日本語のテキスト"]), pc)
    sig = signatures(sh, off, pc)
    assert np.diff(off).tolist() == [6, 6]
    assert (sig[0] == sig[1]).all()


def _reference(texts: list[str], p: MinhashParams) -> list[bool]:
    """Single process, pure Python grouping and union-find over the same signatures."""
    sh, off = shingle_hashes(pa.array(texts, pa.large_string()), p)
    keys = band_keys(signatures(sh, off, p), p, None)
    parent = list(range(len(texts)))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for band in range(keys.shape[1]):
        seen: dict[int, int] = {}
        for d in range(len(texts)):
            if off[d + 1] == off[d]:
                continue
            k = int(keys[d, band])
            if k in seen:
                ra, rb = find(seen[k]), find(d)
                parent[max(ra, rb)] = min(ra, rb)
            else:
                seen[k] = d
    return [find(d) != d for d in range(len(texts))]  # root = first document = survivor


def _corpus(tmp: Path, n_files: int, seed: int) -> list[dict[str, Any]]:
    """Real text (the test corpus) plus planted near-duplicates, split over n_files files."""
    recs = []
    for name in ("gutenberg", "debian-man"):
        with gzip.open(Path(__file__).parents[2] / "data" / "corpus" / f"{name}.jsonl.gz", "rt") as fh:
            recs.extend(json.loads(line) for line in fh)
    rng = random.Random(seed)
    docs = [{"id": r["id"], "text": r["text"], "license": r["license"]} for r in recs]
    for r in rng.sample(recs, 40):
        words = r["text"].split()
        for _ in range(rng.choice([1, 2, max(1, len(words) // 30)])):  # a few substitutions
            words[rng.randrange(len(words))] = "zzz"
        docs.append({"id": r["id"] + "#near", "text": " ".join(words), "license": r["license"]})
    rng.shuffle(docs)
    tmp.mkdir(parents=True, exist_ok=True)
    per = len(docs) // n_files + 1
    for i in range(n_files):
        with (tmp / f"in-{i:02d}.jsonl").open("w") as fh:
            for d in docs[i * per : (i + 1) * per]:
                fh.write(json.dumps(d) + "\n")
    return docs


def _run(
    inputs: Path, out: Path, step: dict[str, Any], workers: int = 2, kind: str = "local"
) -> dict[str, Any]:
    cfg = {
        "input": {"path": str(inputs)},
        "steps": [{"minhash_dedup": step}],
        "output": {"path": str(out)},
        "executor": {"kind": kind, "workers": workers},
        "task_size": 1,
        "batch_size": 37,
    }
    return Pipeline.from_dict(cfg).run().manifest


@pytest.mark.parametrize("hashing", ["minhash", "superminhash"])
def test_clusters_equal_reference_across_shards(tmp_path: Path, hashing: str) -> None:
    docs = _corpus(tmp_path / "in", 7, seed=1)
    m = _run(tmp_path / "in", tmp_path / "out", {"hashing": hashing})
    ref = _reference([d["text"] for d in docs], MinhashParams(hashing=hashing))
    expected_kept = [d["id"] for d, dup in zip(docs, ref, strict=True) if not dup]
    kept = pq.read_table(tmp_path / "out" / "data").column("id").to_pylist()
    assert kept == expected_kept
    assert m["steps"][0]["dropped"] == {"minhash_dedup:duplicate": len(docs) - len(expected_kept)}
    by_id = {d["id"]: d["text"] for d in docs}
    near = [i for i in by_id if i.endswith("#near")]
    similar = [i for i in near if _jaccard(by_id[i], by_id[i.removesuffix("#near")]) >= 0.9]
    assert len(similar) >= 10
    dropped = set(pq.read_table(tmp_path / "out" / "rejected").column("id").to_pylist())
    # every planted edit with true Jaccard >= 0.9 (candidate probability 0.9996) is caught
    assert all(i in dropped or i.removesuffix("#near") in dropped for i in similar)
    clusters = pq.read_table(tmp_path / "out" / "steps" / "minhash_dedup" / "clusters.parquet").to_pylist()
    assert sum(c["size"] - 1 for c in clusters) == len(dropped)
    assert all(c["size"] == len(c["member_ids"]) >= 2 for c in clusters)
    report = (tmp_path / "out" / "steps" / "minhash_dedup" / "report.md").read_text()
    assert report.startswith("# minhash_dedup: largest clusters")


def test_same_result_with_one_worker_and_one_shard(tmp_path: Path) -> None:
    _corpus(tmp_path / "in", 5, seed=2)
    a = _run(tmp_path / "in", tmp_path / "a", {}, workers=2)
    one = tmp_path / "one.jsonl"  # the same documents in one file: one shard
    one.write_text("".join(f.read_text() for f in sorted((tmp_path / "in").iterdir())))
    cfg = {
        "input": {"path": str(one)},
        "steps": ["minhash_dedup"],
        "output": {"path": str(tmp_path / "b")},
        "executor": {"workers": 1},
    }
    b = Pipeline.from_dict(cfg).run().manifest
    assert (b["counts"]["shards"], a["counts"]["shards"]) == (1, 5)
    ids = [pq.read_table(tmp_path / x / "data").column("id").to_pylist() for x in ("a", "b")]
    assert ids[0] == ids[1]


def test_keep_longest_and_score(tmp_path: Path) -> None:
    base = " ".join(f"word{i}" for i in range(200))
    rows = [
        {"id": "a", "text": base, "q": 0.1},
        {"id": "b", "text": base + " and a longer tail", "q": 0.9},
        {"id": "c", "text": base + " tail", "q": 0.5},
        {"id": "other", "text": " ".join(f"other{i}" for i in range(200)), "q": 0.0},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for step, survivor in (
        ({}, "a"),
        ({"keep": "longest"}, "b"),
        ({"keep": "score", "score_column": "q"}, "b"),
    ):
        out = tmp_path / f"out-{survivor}-{len(step)}"
        _run(src, out, step, workers=1)
        assert pq.read_table(out / "data").column("id").to_pylist() == sorted([survivor, "other"])


def test_verify_removes_false_positive_edges(tmp_path: Path) -> None:
    rng = random.Random(3)
    base = _words(300, rng)
    rows = [{"id": "orig", "text": " ".join(base)}]
    for k, frac in enumerate((0.01, 0.05, 0.08)):  # true Jaccard ~0.9, ~0.6, ~0.5
        w = list(base)
        for i in rng.sample(range(300), int(300 * frac)):
            w[i] = f"y{k}{i}"
        rows.append({"id": f"edit{frac}", "text": " ".join(w)})
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    loose = {"bands": 40, "rows": 2, "num_perm": 80}  # catches pairs far below 0.8
    m_loose = _run(src, tmp_path / "loose", loose, workers=1)
    m_ver = _run(src, tmp_path / "ver", {**loose, "verify": True, "threshold": 0.8}, workers=1)
    assert m_loose["counts"]["documents_out"] == 1
    kept = set(pq.read_table(tmp_path / "ver" / "data").column("id").to_pylist())
    assert kept == {"orig", "edit0.05", "edit0.08"}
    counts = m_ver["steps"][0]["counts"]
    # at least the two edges linking the 0.6 and 0.5 edits to the original; all but one (0.01 edit)
    assert 2 <= counts["removed_by_verify"] == counts["candidate_pairs"] - 1


def test_scope_deduplicates_within_each_value(tmp_path: Path) -> None:
    text = " ".join(f"word{i}" for i in range(100))
    rows = [{"id": f"{s}{k}", "text": text, "source": s} for s in ("x", "y") for k in range(2)]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    _run(src, tmp_path / "g", {}, workers=1)
    _run(src, tmp_path / "s", {"scope": "source"}, workers=1)
    assert pq.read_table(tmp_path / "g" / "data").column("id").to_pylist() == ["x0"]
    assert pq.read_table(tmp_path / "s" / "data").column("id").to_pylist() == ["x0", "y0"]
    with pytest.raises(ConfigError, match="no column 'dump'"):
        _run(src, tmp_path / "bad", {"scope": "dump"}, workers=1)


def test_odd_input_is_defined(tmp_path: Path) -> None:
    rows = [
        {"id": "e1", "text": ""},
        {"id": "e2", "text": "   "},
        {"id": "short", "text": "hi there"},
        {"id": "short", "text": "hi there"},  # duplicate id and text: distinct documents, one removed
        {"id": "ja", "text": "これは日本語の文書です。" * 20},
        {"id": "ja2", "text": "これは日本語の文書です。" * 20 + "追加"},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    _run(src, tmp_path / "w", {}, workers=1)
    kept = pq.read_table(tmp_path / "w" / "data").column("id").to_pylist()
    assert kept.count("e1") == kept.count("e2") == 1  # no shingles: never a near-duplicate
    assert kept.count("short") == 1
    _run(src, tmp_path / "c", {"shingle": "char", "n": 5}, workers=1)
    kept_c = pq.read_table(tmp_path / "c" / "data").column("id").to_pylist()
    assert "ja" in kept_c
    assert "ja2" not in kept_c


@settings(max_examples=25, deadline=None)
@given(
    texts=st.lists(
        st.sampled_from(["a b c d e f", "a b c d e g", "x y z", "", "p q r s t u v w"]), max_size=12
    )
)
def test_idempotent(texts: list[str]) -> None:
    p = MinhashParams(bands=20, rows=1, num_perm=20)
    first = _reference(texts, p)
    survivors = [t for t, dup in zip(texts, first, strict=True) if not dup]
    assert not any(_reference(survivors, p))


@pytest.mark.slow
def test_ray_gives_the_same_clusters(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    _corpus(tmp_path / "in", 6, seed=4)
    schemes = ("minhash", "superminhash")
    local = {
        h: _run(tmp_path / "in", tmp_path / f"local-{h}", {"verify": True, "hashing": h}) for h in schemes
    }
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = {
            h: _run(tmp_path / "in", tmp_path / f"ray-{h}", {"verify": True, "hashing": h}, kind="ray")
            for h in schemes
        }
    finally:
        ray.shutdown()
    for h in schemes:
        assert on_ray[h]["content_id"] == local[h]["content_id"]
        tables = [
            pq.read_table(tmp_path / f"{x}-{h}" / "steps" / "minhash_dedup" / "clusters.parquet")
            for x in ("local", "ray")
        ]
        assert tables[0].equals(tables[1])
        dropped = read_manifest(str(tmp_path / f"ray-{h}"))["steps"][0]["dropped"]
        assert dropped == local[h]["steps"][0]["dropped"]


@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(st.text(max_size=60), max_size=8),
    n=st.integers(1, 6),
    char=st.booleans(),
    fold_case=st.booleans(),
    seed=st.integers(0, 2**32),
)
def test_compiled_kernels_match_the_python_references(
    texts: list[str], n: int, char: bool, fold_case: bool, seed: int
) -> None:
    """Each loop of ``_minhash_kernels.pyx`` gives what its Python reference in ``minhash.py`` gives."""
    from gencommons.data.dedup import _minhash_kernels as k
    from gencommons.data.dedup import _unicode, minhash

    arr = pa.array(texts, pa.large_string())
    offs = np.frombuffer(arr.buffers()[1], dtype=np.int64)[: len(texts) + 1]
    buf = arr.buffers()[2]
    data = np.frombuffer(buf, dtype=np.uint8) if buf is not None else np.zeros(0, np.uint8)
    outs, lens = [], []
    fold, expansions = _unicode.fold_tables() if fold_case else minhash._NO_FOLD
    for tokens in (k.tokens, minhash._tokens_kernel_py):
        out, lengths = np.zeros(len(data) + 1, np.uint64), np.zeros(len(texts), np.int64)
        with np.errstate(over="ignore"):
            used = tokens(
                data, offs, _unicode.classes(), fold, expansions, int(char), np.uint64(seed), out, lengths
            )
        outs.append(out[:used].tolist())
        lens.append(lengths.tolist())
    assert outs[0] == outs[1]
    assert lens[0] == lens[1]

    hashes = np.array(outs[0], dtype=np.uint64)
    lengths = np.array(lens[0], dtype=np.int64)
    tok_off = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    counts = np.where(lengths >= n, lengths - n + 1, np.minimum(lengths, 1))
    off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    rolled = [np.zeros(int(off[-1]), np.uint64) for _ in range(2)]
    k.roll(hashes, tok_off, off, n, rolled[0])
    with np.errstate(over="ignore"):
        minhash._roll_kernel_py(hashes, tok_off, off, n, rolled[1])
    assert rolled[0].tolist() == rolled[1].tolist()

    p = MinhashParams(num_perm=16, bands=4, rows=4, seed=seed)
    a, b = minhash._permutations(p)
    sigs = [np.full((len(texts), 16), np.uint64(2**32), np.uint64) for _ in range(2)]
    k.minhash(rolled[0], off, a, b, sigs[0])
    with np.errstate(over="ignore"):
        minhash._minhash_kernel_py(rolled[0], off, a, b, sigs[1])
    assert np.array_equal(sigs[0], sigs[1])

    m = 2 + seed % 40  # any signature size, small ones too
    sigs = [np.zeros((len(texts), m), np.uint64) for _ in range(2)]
    scratch = (np.zeros(m, np.int32), np.zeros(m, np.int32), np.zeros(m, np.int64))
    k.superminhash(rolled[0], off, np.uint64(seed), sigs[0], *scratch)
    minhash._superminhash_kernel_py(rolled[0], off, seed, sigs[1])
    assert np.array_equal(sigs[0], sigs[1])


@settings(max_examples=80, deadline=None)
@given(
    size=st.integers(1, 40),
    edges=st.lists(st.tuples(st.integers(0, 39), st.integers(0, 39)), max_size=60),
)
def test_compiled_union_find_matches_the_python_reference(size: int, edges: list[tuple[int, int]]) -> None:
    from gencommons.data.dedup import _minhash_kernels as k
    from gencommons.data.dedup import minhash

    edges = [(x % size, y % size) for x, y in edges]
    a = np.array([e[0] for e in edges], dtype=np.int64)
    b = np.array([e[1] for e in edges], dtype=np.int64)
    compiled, reference = np.arange(size, dtype=np.int64), np.arange(size, dtype=np.int64)
    k.union_all(compiled, a, b)
    k.flatten(compiled)
    minhash._union_all_py(reference, a, b)
    minhash._flatten_py(reference)
    assert compiled.tolist() == reference.tolist()
    # every node points at the smallest node of its connected component
    for x, y in edges:
        assert compiled[x] == compiled[y]
    assert all(compiled[i] <= i for i in range(size))


def test_compiled_kernels_refuse_bad_arguments() -> None:
    from gencommons.data.dedup import _minhash_kernels as k

    with pytest.raises(IndexError, match="outside"):
        k.union_all(np.arange(3, dtype=np.int64), np.array([0], np.int64), np.array([5], np.int64))
    with pytest.raises(ValueError, match="do not agree"):
        k.minhash(
            np.zeros(1, np.uint64),
            np.array([0, 1]),
            np.ones(4, np.uint64),
            np.ones(4, np.uint64),
            np.zeros((1, 3), np.uint64),
        )
    data = np.frombuffer(b"a b c d", dtype=np.uint8)
    with pytest.raises(ValueError, match="too small"):
        k.tokens(
            data,
            np.array([0, 7]),
            np.ones(256, np.uint8),
            np.zeros(0, np.int32),
            np.zeros((0, 3), np.uint32),
            0,
            1,
            np.zeros(0, np.uint64),
            np.zeros(1, np.int64),
        )
    with pytest.raises(ValueError, match="needs its expansions"):
        k.tokens(
            data,
            np.array([0, 7]),
            np.ones(256, np.uint8),
            np.arange(128, dtype=np.int32),
            np.zeros((0, 3), np.uint32),
            0,
            1,
            np.zeros(8, np.uint64),
            np.zeros(1, np.int64),
        )


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(0, 6), min_size=1, max_size=5),
    bands=st.lists(
        st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)), max_size=30), max_size=4
    ),
    data=st.data(),
)
def test_distinct_edges_equal_a_set_of_pairs(
    tmp_path_factory: pytest.TempPathFactory, counts: list[int], bands: list[list[tuple[int, int]]], data: Any
) -> None:
    """The cluster stage's packed-key dedup of the bands' edges gives the distinct (a, b) document pairs,
    sorted, across shards of any size (empty ones too) and per-batch files of any split."""
    from gencommons.data.dedup.minhash import ROW_BITS, _distinct_edges, _shard_offsets

    work = tmp_path_factory.mktemp("w")
    (work / "docs").mkdir()
    (work / "edges").mkdir()
    docs = []
    for shard, n in enumerate(counts):
        cut = data.draw(st.integers(0, n))
        for part, (lo, hi) in enumerate([(0, cut), (cut, n)]):
            if hi > lo:
                pq.write_table(
                    pa.table({"doc": list(range(lo, hi))}),
                    work / "docs" / f"s{shard:05d}-p{part:06d}.parquet",
                )
        docs += [(shard << ROW_BITS) | r for r in range(n)]
    if not docs:
        return
    expected = set()
    for i, pairs in enumerate(bands):
        edges = sorted({(docs[x % len(docs)], docs[y % len(docs)]) for x, y in pairs})
        expected |= set(edges)
        pq.write_table(
            pa.table(
                {
                    "a": pa.array([e[0] for e in edges], pa.uint64()),
                    "b": pa.array([e[1] for e in edges], pa.uint64()),
                }
            ),
            work / "edges" / f"b{i:04d}.parquet",
        )
    files = sorted(str(f) for f in (work / "edges").glob("*.parquet"))
    a, b = _distinct_edges(files, _shard_offsets(str(work), len(counts)))
    assert list(zip(a.tolist(), b.tolist(), strict=True)) == sorted(expected)


def test_distinct_edges_refuse_more_documents_than_a_packed_edge_holds() -> None:
    from gencommons.data.dedup.minhash import _distinct_edges

    with pytest.raises(RuntimeError, match="4,294,967,296 documents in one cluster task"):
        _distinct_edges([], np.array([0, 1 << 31, 1 << 32], dtype=np.int64))
    a, b = _distinct_edges([], np.array([0, (1 << 32) - 1], dtype=np.int64))
    assert len(a) == len(b) == 0


@settings(max_examples=100, deadline=None)
@given(
    sets=st.lists(st.sets(st.integers(0, 30)), min_size=1, max_size=8),
    pairs=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), max_size=20),
)
def test_compiled_intersections_match_the_python_reference_and_sets(
    sets: list[set[int]], pairs: list[tuple[int, int]]
) -> None:
    from gencommons.data.dedup import _minhash_kernels as k
    from gencommons.data.dedup import minhash

    values = np.array([v for s in sets for v in sorted(s)], dtype=np.uint64)
    off = np.zeros(len(sets) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in sets], out=off[1:])
    pairs = [(x % len(sets), y % len(sets)) for x, y in pairs]
    a = np.array([p[0] for p in pairs], dtype=np.int64)
    b = np.array([p[1] for p in pairs], dtype=np.int64)
    compiled, reference = np.zeros(len(pairs), np.int64), np.zeros(len(pairs), np.int64)
    k.intersections(values, off, a, b, compiled)
    minhash._intersections_py(values, off, a, b, reference)
    assert compiled.tolist() == reference.tolist() == [len(sets[x] & sets[y]) for x, y in pairs]
    with pytest.raises(IndexError):
        k.intersections(values, off, np.array([len(sets)]), np.array([0]), np.zeros(1, np.int64))


@settings(max_examples=60, deadline=None)
@given(
    lists=st.lists(st.lists(st.integers(0, 12), max_size=15), min_size=2, max_size=7),
    pairs=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=12),
    threshold=st.sampled_from([0.3, 0.5, 0.8]),
    split=st.integers(0, 7),
)
def test_verify_equals_the_jaccard_of_python_sets(
    tmp_path_factory: pytest.TempPathFactory,
    lists: list[list[int]],
    pairs: list[tuple[int, int]],
    threshold: float,
    split: int,
) -> None:
    """``verify`` keeps a candidate pair exactly when the Jaccard of its documents' shingle sets (lists
    with repeats, in any order, spread over per-batch files of two shards) reaches the threshold."""
    from gencommons.data.dedup.minhash import ROW_BITS, _verify

    work = tmp_path_factory.mktemp("v")
    (work / "shingles").mkdir()
    cut = min(split, len(lists))
    docs = [(0 << ROW_BITS) | i for i in range(cut)] + [(1 << ROW_BITS) | i for i in range(len(lists) - cut)]
    for shard, (lo, hi) in enumerate([(0, cut), (cut, len(lists))]):
        if hi > lo:
            pq.write_table(
                pa.table(
                    {
                        "doc": pa.array(docs[lo:hi], pa.uint64()),
                        "shingles": pa.array(lists[lo:hi], pa.list_(pa.uint64())),
                    }
                ),
                work / "shingles" / f"s{shard:05d}-p000000.parquet",
            )
    pairs = [(x % len(lists), y % len(lists)) for x, y in pairs]
    a = np.array([docs[x] for x, _ in pairs], dtype=np.uint64)
    b = np.array([docs[y] for _, y in pairs], dtype=np.uint64)
    p = MinhashParams(verify=True, threshold=threshold)
    keep = _verify(str(work), a, b, p)
    expected = []
    for x, y in pairs:
        sx, sy = set(lists[x]), set(lists[y])
        expected.append(bool(sx | sy) and len(sx & sy) / len(sx | sy) >= threshold)
    assert keep.tolist() == expected


def test_verify_names_a_work_folder_without_the_shingles(tmp_path: Path) -> None:
    from gencommons.data.dedup.minhash import _verify

    (tmp_path / "shingles").mkdir()
    pq.write_table(
        pa.table({"doc": pa.array([0], pa.uint64()), "shingles": pa.array([[1, 2]], pa.list_(pa.uint64()))}),
        tmp_path / "shingles" / "s00000-p000000.parquet",
    )
    p = MinhashParams(verify=True, threshold=0.5)
    with pytest.raises(RuntimeError, match="shingles lacks documents"):
        _verify(str(tmp_path), np.array([0], np.uint64), np.array([1], np.uint64), p)
    with pytest.raises(RuntimeError, match="shingles lacks documents"):
        _verify(str(tmp_path / "nowhere"), np.array([0], np.uint64), np.array([1], np.uint64), p)


@given(
    chunks=st.lists(st.lists(st.text(max_size=12), max_size=6), min_size=1, max_size=4),
    nbytes=st.integers(1, 40),
)
def test_text_slices_cover_every_row_in_order_within_chunks(chunks: list[list[str]], nbytes: int) -> None:
    from gencommons.data.dedup.minhash import text_slices

    arr = pa.chunked_array([pa.array(c, pa.large_string()) for c in chunks], pa.large_string())
    rows: list[str] = []
    for first, piece in text_slices(arr, nbytes):
        assert isinstance(piece, pa.Array)  # one chunk's slice: never combined (copied)
        assert first == len(rows)
        assert len(piece) >= 1
        sizes = [len(t.encode()) for t in piece.to_pylist()]
        assert len(sizes) == 1 or sum(sizes) <= nbytes
        rows.extend(piece.to_pylist())
    assert rows == arr.to_pylist()


@pytest.mark.parametrize("hashing", ["minhash", "superminhash"])
def test_a_batch_in_chunks_saves_the_signatures_of_the_combined_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hashing: str
) -> None:
    """The reader gives batches in chunks; hashed chunk by chunk (and in slices smaller than a
    chunk), they save the same signatures and document table as the batch in one piece."""
    from gencommons.data.dedup import minhash

    rng = random.Random(3)
    texts = [" ".join(_words(rng.randrange(0, 60), rng)) for _ in range(40)]
    ids = [f"d{i}" for i in range(40)]
    whole = pa.table({"id": ids, "text": pa.array(texts, pa.large_string())})
    chunked = pa.concat_tables([whole.slice(0, 7), whole.slice(7, 20), whole.slice(27)])
    assert chunked["text"].num_chunks == 3
    p = MinhashParams(hashing=hashing)
    step = minhash.MinhashDedup()
    monkeypatch.setattr(minhash, "SIGNATURE_CHUNK", 300)
    out = {}
    for name, batch in (("whole", whole), ("chunked", chunked)):
        work = tmp_path / name
        step.save_signatures(batch, p, workdir=str(work), shard=2, part=0, first_row=5)
        step.finish_signatures(p, workdir=str(work), shard=2)
        out[name] = {
            f.relative_to(work).as_posix(): pq.read_table(f).to_pylist()
            for f in sorted(work.rglob("*.parquet"))
        }
    assert out["chunked"] == out["whole"]
    assert any("sig" in k for k in out["whole"])


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(-(2**70), 2**70), n=st.integers(1, 300))
def test_seeded_draws_are_shake128_of_label_and_seed(seed: int, n: int) -> None:
    """The reference: SHAKE-128 (hashlib) of the label and the seed's 8 little-endian bytes (mod 2**64),
    cut into uint64 words one by one."""
    import hashlib

    from gencommons.data.dedup import _seeded

    stream = hashlib.shake_128(b"minhash.a" + (seed % 2**64).to_bytes(8, "little")).digest(8 * n)
    words = [int.from_bytes(stream[8 * i : 8 * i + 8], "little") for i in range(n)]
    a, b = _seeded.permutations(seed, n)
    assert a.dtype == b.dtype == np.uint64
    assert len(a) == len(b) == n
    assert a.tolist() == [w | 1 for w in words]  # odd: a bijection of the 64-bit words
    assert not np.array_equal(a >> np.uint64(1), b >> np.uint64(1))  # two labels, two streams
    assert _seeded.uint64s("minhash.a", seed + 2**64, n).tolist() == words
    assert (_seeded.band_multipliers(seed, n) & np.uint64(1)).all()


def test_seeded_draws_never_change() -> None:
    """Signatures on disk must stay comparable across versions: these words are the format."""
    from gencommons.data.dedup import _seeded

    a, b = _seeded.permutations(1, 2)
    assert [hex(int(x)) for x in (*a, *b)] == [
        "0x1805d8b0f0b3d1",
        "0xe67c8e700abcedbb",
        "0xb9b80f378d5722eb",
        "0x763c8794d49ae9ea",
    ]
