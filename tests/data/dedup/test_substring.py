"""substring_dedup against a brute-force reference (every window of k units in a dict), on random
corpora with planted repeats, whatever the shards, batches and index groups; the second-pass property;
bad input; the pipeline end to end on the real test corpus."""

from __future__ import annotations

import gzip
import json
import random
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gencommons.data.dedup import substring
from gencommons.data.dedup.substring import REASON, SubstringDedup, SubstringDedupParams, index_bytes
from gencommons.data.pipeline import Pipeline
from gencommons.data.workdir import Workdir
from gencommons.errors import ConfigError
from gencommons.lineage.manifest import read_manifest

Row = tuple[str | None, str]  # (reason, text after the step)

# ---------------------------------------------------------------- the reference


def _units(text: str, unit: str) -> list[Any]:
    return text.split() if unit == "word" else list(text.encode())


def _windows(docs: Sequence[list[Any]], k: int) -> dict[tuple[Any, ...], list[tuple[int, int]]]:
    """Every window of k units -> its occurrences (document, start), in corpus order."""
    occ: dict[tuple[Any, ...], list[tuple[int, int]]] = {}
    for d, u in enumerate(docs):
        for i in range(len(u) - k + 1):
            occ.setdefault(tuple(u[i : i + k]), []).append((d, i))
    return occ


def _ranges(flags: bytearray) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(b"\x01+", bytes(flags))]


def _cut(text: str, ranges: list[tuple[int, int]], unit: str) -> tuple[str, list[int], int]:
    """Cut unit ranges out of a text, as the step defines it; also the joins (in output units) and
    the number of cuts."""
    if unit == "word":  # from the first cut word to the next kept word (or the end)
        starts = [m.start() for m in re.finditer(r"\S+", text)] + [len(text)]
        cuts = [(starts[a], starts[b]) for a, b in ranges]
        pieces = [
            text[x:y]
            for x, y in zip([0] + [b for _, b in cuts], [a for a, _ in cuts] + [len(text)], strict=True)
        ]
        new = "".join(pieces)
        n_out = len(new.split())
    else:  # bytes, shrunk to whole characters
        raw = text.encode()
        cuts = []
        for a, b in ranges:
            while a < len(raw) and raw[a] & 0xC0 == 0x80:
                a += 1
            while a < b < len(raw) and raw[b] & 0xC0 == 0x80:
                b -= 1
            if a < b:
                cuts.append((a, b))
        bpieces = [
            raw[x:y]
            for x, y in zip([0] + [b for _, b in cuts], [a for a, _ in cuts] + [len(raw)], strict=True)
        ]
        pieces = [p.decode() for p in bpieces]
        new = b"".join(bpieces).decode()
        n_out = len(new.encode())
    joins, at = [], 0
    for piece in pieces[:-1]:
        at += len(_units(piece, unit))
        joins.append(at)
    return new, [j for j in joins if 0 < j < n_out], len(cuts)


def reference(
    shards: list[list[str]], p: SubstringDedupParams
) -> tuple[list[list[Row]], dict[str, int], list[list[list[int]]]]:
    """Rows, counts and joins (per shard, per document) of the step, by brute force."""
    sizes = [sum(len(_units(t, p.unit)) + 1 for t in docs) for docs in shards]
    groups: list[list[int]] = []  # consecutive non-empty shards up to max_units (as the step plans)
    total = 0
    for s, n in enumerate(sizes):
        if not shards[s]:
            continue
        if groups and total + n <= p.max_units:
            groups[-1].append(s)
            total += n
        else:
            groups.append([s])
            total = n
    rows: list[list[Row]] = [[(None, t) for t in docs] for docs in shards]
    joins: list[list[list[int]]] = [[[] for _ in docs] for docs in shards]
    counts = {"spans_removed": 0, "chars_removed": 0, "docs_changed": 0}
    for group in groups:
        where = [(s, r) for s in group for r in range(len(shards[s]))]
        docs = [_units(shards[s][r], p.unit) for s, r in where]
        flags = [bytearray(len(u)) for u in docs]
        for occ in _windows(docs, p.k).values():
            if len(occ) >= p.min_count:
                for d, i in occ[1:] if p.keep_first else occ:
                    flags[d][i : i + p.k] = b"\x01" * p.k
        for (s, r), f in zip(where, flags, strict=True):
            text = shards[s][r]
            new, jn, n_cuts = _cut(text, _ranges(f), p.unit)
            if not n_cuts:
                continue
            counts["spans_removed"] += n_cuts
            counts["docs_changed"] += 1
            counts["chars_removed"] += len(text) - len(new)
            reason = REASON if len(new.split()) < p.min_words_after else None
            rows[s][r] = (reason, new)
            joins[s][r] = jn
    return rows, counts, joins


# ---------------------------------------------------------------- the step, driven as the engine does


def run_step(
    shards: list[list[str]], p: SubstringDedupParams, *, batch: int = 3
) -> tuple[list[list[Row]], dict]:
    step = SubstringDedup()
    with tempfile.TemporaryDirectory() as wd:
        for s, docs in enumerate(shards):
            for part, start in enumerate(range(0, len(docs), batch)):
                chunk = pa.table({"text": pa.array(docs[start : start + batch], pa.large_string())})
                step.save_signatures(chunk, p, workdir=wd, shard=s, part=part, first_row=start)
        for stage in step.reduce_stages:
            for t in range(stage.tasks(p, len(shards))):
                stage.run(wd, t, len(shards), p)
        out, counts = [], {"spans_removed": 0, "chars_removed": 0, "docs_changed": 0}
        for s, docs in enumerate(shards):
            dec = step.decisions(p, workdir=wd, shard=s, n_rows=len(docs))
            texts = dec["text"].to_pylist()
            out.append(
                [
                    (r, t if t is not None else d)
                    for r, t, d in zip(dec["reason"].to_pylist(), texts, docs, strict=True)
                ]
            )
            for key, v in step.shard_counts(p, workdir=wd, shard=s).items():
                counts[key] += v
        return out, counts


# ---------------------------------------------------------------- random corpora with planted repeats

FILLER = ["a", "b", "é", "日本", "ß", "x"]  # few words: short natural repeats
PLANT = [f"w{i}" for i in range(12)] + ["ü", "中文"]
SPACE = st.sampled_from([" ", " ", " ", "\n", "\t ", "\u00a0", "\u3000", "\n\n"])


@st.composite
def corpora(draw: st.DrawFn, unit: str) -> tuple[list[list[str]], SubstringDedupParams, int]:
    k = draw(st.integers(1, 5)) if unit == "word" else draw(st.integers(4, 14))
    phrase_len = k if unit == "word" else max(1, k // 3)
    phrases = draw(
        st.lists(
            st.lists(st.sampled_from(PLANT), min_size=phrase_len, max_size=2 * phrase_len + 2),
            min_size=1,
            max_size=3,
        )
    )
    segment = st.one_of(st.lists(st.sampled_from(FILLER), max_size=5), st.sampled_from(phrases))

    @st.composite
    def doc(d2: st.DrawFn) -> str:
        words = [w for seg in d2(st.lists(segment, max_size=5)) for w in seg]
        text = d2(st.sampled_from(["", " ", "\n"]))
        for w in words:
            text += w + d2(SPACE)
        return text

    shards = draw(st.lists(st.lists(doc(), max_size=5), min_size=1, max_size=4))
    p = SubstringDedupParams(
        unit=unit,  # type: ignore[arg-type]
        min_tokens=k,
        min_count=draw(st.integers(2, 3)),
        keep_first=draw(st.booleans()),
        min_words_after=draw(st.integers(0, 4)),
    )
    return shards, p, draw(st.integers(1, 4))


@settings(max_examples=60, deadline=None)
@given(case=corpora("word"))
def test_words_match_reference(case: tuple[list[list[str]], SubstringDedupParams, int]) -> None:
    shards, p, batch = case
    rows, counts, _ = reference(shards, p)
    got, got_counts = run_step(shards, p, batch=batch)
    assert got == rows
    assert got_counts == counts


@settings(max_examples=40, deadline=None)
@given(case=corpora("byte"))
def test_bytes_match_reference(case: tuple[list[list[str]], SubstringDedupParams, int]) -> None:
    shards, p, batch = case
    rows, counts, _ = reference(shards, p)
    got, got_counts = run_step(shards, p, batch=batch)
    assert got == rows
    assert got_counts == counts


@settings(max_examples=30, deadline=None)
@given(case=corpora("word"), slack=st.integers(0, 40))
def test_index_groups_match_reference(
    case: tuple[list[list[str]], SubstringDedupParams, int], slack: int
) -> None:
    """With a small max_tokens_per_index, each group of consecutive shards is deduplicated alone."""
    shards, p, batch = case
    biggest = max(sum(len(t.split()) + 1 for t in docs) for docs in shards)
    p = p.model_copy(update={"max_tokens_per_index": max(2, biggest + slack)})
    with pytest.MonkeyPatch.context() as mp:  # fewer index tasks than groups: each takes every 2nd
        mp.setattr(substring, "INDEX_TASKS", 2)
        assert run_step(shards, p, batch=batch)[0] == reference(shards, p)[0]


@settings(max_examples=40, deadline=None)
@given(case=st.one_of(corpora("word"), corpora("byte")))
def test_second_pass_only_cuts_across_joins(case: tuple[list[list[str]], SubstringDedupParams, int]) -> None:
    """Run on its own output, the step finds a repeat only where an occurrence spans a join of the
    first pass (so it is idempotent whenever the first pass cut no span out of a document's middle)."""
    shards, p, batch = case
    first, _, joins = reference(shards, p)
    assert run_step(shards, p, batch=batch)[0] == first
    kept = [
        [(t, j) for (r, t), j in zip(rows, jn, strict=True) if r is None]
        for rows, jn in zip(first, joins, strict=True)
    ]
    second = [[t for t, _ in docs] for docs in kept]
    flat = [(_units(t, p.unit), j) for docs in kept for t, j in docs]
    for occ in _windows([u for u, _ in flat], p.k).values():
        if len(occ) >= p.min_count:
            assert any(i < j < i + p.k for d, i in occ for j in flat[d][1]), occ
    got, counts = run_step(second, p, batch=batch)
    if not any(j for _, j in flat):
        assert counts["docs_changed"] == 0
        assert got == [[(None, t) for t in docs] for docs in second]


def test_not_idempotent_across_a_join() -> None:
    """The counterexample of the module docstring: "A S B" and "A T B" both become "A B"."""
    a, b = "a1 a2", "b1 b2"  # shorter than k = 4 words: not a repeat on their own
    docs = [f"{a} s1 s2 s3 s4 {b}", f"{a} t1 t2 t3 t4 {b}", "s1 s2 s3 s4", "t1 t2 t3 t4"]
    p = SubstringDedupParams(min_tokens=4, min_words_after=0)
    (first,), _ = run_step([docs], p)
    assert first == [(None, f"{a} {b}"), (None, f"{a} {b}"), (None, ""), (None, "")]
    (second,), _ = run_step([[t for _, t in first]], p)
    assert second[0] == (None, "")


# ---------------------------------------------------------------- defined behaviour on bad input


def _one(docs: list[str], **params: Any) -> list[Row]:
    return run_step([docs], SubstringDedupParams(**params))[0][0]


def test_cuts_every_occurrence_and_keeps_the_spacing() -> None:
    span = " ".join(f"s{i}" for i in range(6))
    docs = [f"intro one\n{span}\nafter one two", f"{span}  tail", f"head\t{span}"]
    assert _one(docs, min_tokens=6, min_words_after=0) == [
        (None, "intro one\nafter one two"),
        (None, "tail"),
        (None, "head\t"),
    ]
    kept = _one(docs, min_tokens=6, min_words_after=0, keep_first=True)
    assert kept == [(None, docs[0]), (None, "tail"), (None, "head\t")]
    assert _one(docs, min_tokens=6, min_count=4) == [(None, d) for d in docs]
    assert _one(docs, min_tokens=6, min_words_after=2) == [
        (None, "intro one\nafter one two"),
        (REASON, "tail"),
        (REASON, "head\t"),
    ]


def test_empty_whitespace_and_short_documents_are_never_changed() -> None:
    long = " ".join(f"w{i}" for i in range(10))
    docs = ["", "   \n\t", "w3 w4 w5", long, long, "w0 w1", "\u3000"]
    rows = _one(docs, min_tokens=4, min_words_after=5)
    assert rows[:3] == [(None, ""), (None, "   \n\t"), (None, "w3 w4 w5")]
    assert rows[3] == rows[4] == (REASON, "")  # exact duplicates: every occurrence goes
    assert rows[5:] == [(None, "w0 w1"), (None, "\u3000")]


def test_duplicate_ids_are_two_documents() -> None:
    step, p = SubstringDedup(), SubstringDedupParams(min_tokens=3, min_words_after=0)
    text = "the same long text here"
    with tempfile.TemporaryDirectory() as wd:
        step.save_signatures(
            pa.table({"id": ["x", "x"], "text": [text, text]}), p, workdir=wd, shard=0, part=0, first_row=0
        )
        for stage in step.reduce_stages:
            stage.run(wd, 0, 1, p)
        assert step.decisions(p, workdir=wd, shard=0, n_rows=2)["text"].to_pylist() == ["", ""]


def test_cjk_needs_byte_units() -> None:
    """Without spaces a CJK document is one word: word units never cut it; byte units cut whole
    characters (3 bytes each), so the result is valid UTF-8."""
    shared = "重复的句子在这里出现了两次而且很长"
    docs = [f"开头{shared}结尾", f"另一个{shared}", "其他内容"]
    assert _one(docs) == [(None, d) for d in docs]
    rows = _one(docs, unit="byte", min_tokens=30, min_words_after=0)
    assert rows == [(None, "开头结尾"), (None, "另一个"), (None, "其他内容")]
    # a repeat that starts or ends inside a character is shrunk to whole characters
    rows = _one(["é" + "x" * 8 + "é", "ü" + "x" * 8 + "ü"], unit="byte", min_tokens=9, min_words_after=0)
    assert rows == [(None, "éé"), (None, "üü")]


def test_a_run_of_one_word_repeats_itself() -> None:
    assert _one(["x " * 5 + "end", "x x x x"], min_tokens=4, min_words_after=0) == [(None, "end"), (None, "")]
    assert _one(["x " * 5 + "end"], min_tokens=4, min_words_after=0, keep_first=True) == [(None, "x end")]


def test_reruns_give_the_same_result_and_new_content_is_not_served_stale(tmp_path: Path) -> None:
    """A map task that restarts resets its signatures; reduce tasks rerun; decisions (cached for
    shard_counts) follow the files, even in the same process and folder."""
    step, p = SubstringDedup(), SubstringDedupParams(min_tokens=2, min_words_after=0)
    wd = Workdir(str(tmp_path))

    def run(texts: list[str]) -> tuple[list[str | None], dict[str, int]]:
        wd.reset_signatures(0, 0)
        batch = pa.table({"text": pa.array(texts, pa.large_string())})
        step.save_signatures(batch, p, workdir=wd.global_dir(0), shard=0, part=0, first_row=0)
        for stage in step.reduce_stages:
            stage.run(wd.global_dir(0), 0, 1, p)
        dec = step.decisions(p, workdir=wd.global_dir(0), shard=0, n_rows=len(texts))
        return dec["text"].to_pylist(), step.shard_counts(p, workdir=wd.global_dir(0), shard=0)

    first = run(["x y z", "x y"])
    assert first == (["z", ""], {"spans_removed": 2, "chars_removed": 7, "docs_changed": 2})
    assert run(["x y z", "x y"]) == first
    assert run(["p q r", "q r"])[0] == ["p ", ""]


def test_a_shard_over_the_index_limit_is_a_config_error() -> None:
    p = SubstringDedupParams(min_tokens=2, max_tokens_per_index=5)
    with pytest.raises(ConfigError, match=r"shard 0 alone has 7 words.*max_tokens_per_index=5"):
        run_step([["a b c", "d e"]], p)


def test_not_enough_memory_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import psutil

    class Tiny:
        available = 100

    monkeypatch.setattr(psutil, "virtual_memory", lambda: Tiny())
    with pytest.raises(
        ConfigError, match=r"needs about .* GB, but only 0.0 GB is available.*max_tokens_per_index"
    ):
        run_step([["a b c d e f"]], SubstringDedupParams())


def test_memory_bound_per_unit() -> None:
    assert index_bytes(10**6, 4) == 20 * 10**6  # words: stream 4 + suffix array 16 (PLCP inside it)
    assert index_bytes(10**6, 1) == 9 * 10**6  # bytes: 1 + 4 + 4
    assert index_bytes(2**29, 4) == 36 * 2**29  # past 2^31 stream bytes: int64
    defaults = SubstringDedupParams()
    assert index_bytes(defaults.max_units, 4) < 11e9
    assert index_bytes(SubstringDedupParams(unit="byte").max_units, 1) < 20e9


@pytest.mark.slow
def test_fifty_megabyte_document() -> None:
    rng = random.Random(0)
    vocab = [f"v{i}" for i in range(5000)]
    planted = " ".join(f"p{i}" for i in range(80))
    body = " ".join(rng.choice(vocab) for _ in range(9_200_000))
    big = f"{planted}\n{body}\n{planted}"
    assert len(big) > 50 * 2**20
    rows = _one([big, "short one"], min_words_after=0)
    assert rows[0] == (None, f"{body}\n")
    assert rows[1] == (None, "short one")


# ---------------------------------------------------------------- the pipeline on the real corpus


def _records(corpus: Path) -> list[dict[str, Any]]:
    recs = []
    for name in ("debian-man", "gutenberg"):  # the order in which the engine reads the folder
        with gzip.open(corpus / f"{name}.jsonl.gz", "rt", encoding="utf-8") as fh:
            recs.extend(json.loads(line) for line in fh)
    return recs


@pytest.mark.parametrize("workers", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_pipeline_on_the_test_corpus(corpus_dir: Path, tmp_path: Path, workers: int) -> None:
    out = tmp_path / "out"
    cfg = {
        "input": [
            {"path": str(corpus_dir / "debian-man.jsonl.gz")},
            {"path": str(corpus_dir / "gutenberg.jsonl.gz")},
        ],
        "steps": ["substring_dedup"],
        "output": {"path": str(out)},
        "executor": {"kind": "local", "workers": workers},
    }
    m = Pipeline.from_dict(cfg).run().manifest
    src = _records(corpus_dir)
    rows, counts, _ = reference([[r["text"] for r in src]], SubstringDedupParams())
    expected = [(r["id"], t) for r, (reason, t) in zip(src, rows[0], strict=True) if reason is None]
    got = [
        (r["id"], r["text"])
        for f in read_manifest(str(out))["files"]
        for r in pq.read_table(out / f["path"]).to_pylist()
    ]
    assert got == expected
    (stats,) = m["steps"]
    assert stats["counts"] == counts
    assert counts["chars_removed"] > 10_000  # licence boilerplate, exact duplicates
    dropped = sum(1 for reason, _ in rows[0] if reason)
    assert stats["dropped"] == ({REASON: dropped} if dropped else {})
    assert m["counts"]["documents_out"] == len(expected)


@settings(max_examples=40, deadline=None)
@given(
    texts=st.lists(
        st.lists(st.sampled_from(["a", "b", "c", "dé", "\u3000", " ", "\n", "\xa0", "x y"]), max_size=30).map(
            "".join
        ),
        max_size=6,
    ),
    k=st.integers(1, 4),
    min_count=st.integers(2, 3),
    keep_first=st.booleans(),
    width=st.sampled_from([1, 4]),
)
def test_compiled_kernels_match_the_python_references(
    texts: list[str], k: int, min_count: int, keep_first: bool, width: int
) -> None:
    """Each loop of ``_substring_kernels.pyx`` gives what its Python reference in ``substring.py``
    gives, on both unit widths (uint8 / uint32 streams, int32 suffix arrays)."""
    import numpy as np
    from pydivsufsort import divsufsort

    from gencommons.data.dedup import _substring_kernels as c

    data, offsets = substring._utf8(pa.array(texts, pa.large_string()))
    words = [np.zeros(len(data) + 2 * len(texts) + 1, np.uint32) for _ in range(2)]
    starts = [np.zeros(len(data) + 2 * len(texts) + 1, np.int64) for _ in range(2)]
    with np.errstate(over="ignore"):  # the reference's hash arithmetic wraps, as the C one does
        counts = [
            f(data, offsets, w, s)
            for f, w, s in zip((c._scan_words, substring._scan_words), words, starts, strict=True)
        ]
    assert counts[0].tolist() == counts[1].tolist() == [len(t.split()) for t in texts]
    assert words[0].tolist() == words[1].tolist()
    assert starts[0].tolist() == starts[1].tolist()

    if width == 1:
        stream = [np.zeros(len(data) + len(texts), np.uint8) for _ in range(2)]
        c._byte_units(data, offsets, stream[0])
        substring._byte_units(data, offsets, stream[1])
        assert stream[0].tolist() == stream[1].tolist()
        raw, sep = stream[0], substring.BYTE_SEP
    else:
        used = int(counts[0].sum()) + len(texts)
        raw, sep = words[0][:used].astype(">u4").view(np.uint8).copy(), substring.WORD_SEP
    n = len(raw) // width
    if n == 0:
        return
    results = []
    for kern in (c, substring):
        sa = divsufsort(raw.copy())
        if width > 1:
            assert kern._compact(sa, width) == n
            plcp = sa[n : 2 * n]
        else:
            plcp = np.empty(n, dtype=sa.dtype)
        text = raw.view(np.uint32) if width == 4 else raw
        kern._plcp(text, sa, n, sep, plcp)
        marked = kern._mark(sa, plcp, n, k, min_count, int(keep_first))
        m = kern._cover(text, plcp, n, sep, k, *(np.zeros(0, np.int64) for _ in range(3)))
        doc, lo, hi = (np.zeros(m, np.int64) for _ in range(3))
        assert kern._cover(text, plcp, n, sep, k, doc, lo, hi) == m
        results.append((marked, plcp.tolist(), doc.tolist(), lo.tolist(), hi.tolist()))
    assert results[0] == results[1]
