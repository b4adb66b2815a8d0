"""The suffix-array index against brute force: counts of every substring of random corpora (bytes and
tokens, one shard or many), the longest-suffix query and its next-unit distribution, pagination that
returns every match once; bad inputs."""

from __future__ import annotations

import collections
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gencommons.data.analysis.index import NgramIndex, build_index
from gencommons.errors import OutputConflictError, UserError

docs_st = st.lists(st.text(alphabet="abé ", min_size=0, max_size=40), min_size=1, max_size=12)


def _write(folder: Path, texts: list[str]) -> str:
    path = folder / "c.parquet"
    pq.write_table(pa.table({"id": [f"d{i}" for i in range(len(texts))], "text": texts}), path)
    return str(path)


def _occurrences(seqs: list[list[int]], pat: list[int]) -> list[tuple[int, int]]:
    m = len(pat)
    return [(d, i) for d, s in enumerate(seqs) for i in range(len(s) - m + 1) if s[i : i + m] == pat]


@settings(max_examples=25, deadline=None)
@given(docs_st, st.integers(4, 200), st.data())
def test_byte_counts_match_brute_force(texts: list[str], shard_units: int, data: st.DataObject) -> None:
    seqs = [list(t.encode()) for t in texts]
    if shard_units <= max(len(s) for s in seqs):
        shard_units = max(len(s) for s in seqs) + 1
    with tempfile.TemporaryDirectory() as tmp:
        m = build_index(_write(Path(tmp), texts), f"{tmp}/ix", shard_units=shard_units)
        assert m["units"] == sum(len(s) + 1 for s in seqs)
        ix = NgramIndex(f"{tmp}/ix")
        pats = [
            "a",
            "ab",
            "é",
            "a a",
            "ba",
            "bab",
            "zz",
            data.draw(st.text(alphabet="abé ", min_size=1, max_size=4)),
        ]
        for p in pats:
            occ = _occurrences(seqs, list(p.encode()))
            assert ix.count(p) == len(occ), p
            total, hits = ix.search(p, limit=1000, context=2)
            assert total == len(occ)
            assert sorted((int(h.doc_id[1:]), h.offset) for h in hits) == occ
            pages = [h for k in range(0, total + 3, 3) for h in ix.search(p, offset=k, limit=3)[1]]
            assert sorted((h.doc_id, h.offset) for h in pages) == sorted((h.doc_id, h.offset) for h in hits)


def _brute_longest(seqs: list[list[int]], q: list[int]) -> tuple[int, dict[int, int]]:
    best, nxt = 0, {}
    for length in range(1, len(q) + 1):
        suf = q[len(q) - length :]
        c = collections.Counter(
            s[i + length] for d, i in _occurrences(seqs, suf) if i + length < len(s := seqs[d])
        )
        if not c:
            break
        best, nxt = length, dict(c)
    return best, nxt


@settings(max_examples=20, deadline=None)
@given(docs_st, st.text(alphabet="abé ", min_size=1, max_size=8))
def test_token_index_and_longest_suffix(tokenizer_dir: Path, texts: list[str], prompt: str) -> None:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    seqs = [tok.encode(t, add_special_tokens=False).ids for t in texts]
    with tempfile.TemporaryDirectory() as tmp:
        m = build_index(_write(Path(tmp), texts), f"{tmp}/ix", tokenizer=str(tokenizer_dir), shard_units=64)
        assert m["width"] == 2
        ix = NgramIndex(f"{tmp}/ix", tokenizer=str(tokenizer_dir))
        q = tok.encode(prompt, add_special_tokens=False).ids
        for a in range(len(q)):
            for b in range(a + 1, min(len(q), a + 3) + 1):
                assert ix.count(np.array(q[a:b])) == len(_occurrences(seqs, q[a:b]))
        length, nxt = _brute_longest(seqs, q)
        got = ix.longest_suffix(np.array(q))
        assert got["suffix_units"] == length
        assert {d["unit"]: d["count"] for d in got["next"]} == nxt
        if nxt:
            assert abs(sum(d["prob"] for d in got["next"]) - 1) < 1e-9


def test_bad_inputs(tmp_path: Path, tokenizer_dir: Path, records: list[dict]) -> None:
    ds = _write(tmp_path, [r["text"] for r in records[:30]])
    with pytest.raises(UserError, match="No n-gram index"):
        NgramIndex(str(tmp_path / "none"))
    build_index(ds, str(tmp_path / "tix"), tokenizer=str(tokenizer_dir))
    other = tmp_path / "other"
    other.mkdir()
    from tokenizers import Tokenizer, models, pre_tokenizers

    t = Tokenizer(models.WordLevel({"[UNK]": 0, "a": 1}, unk_token="[UNK]"))
    t.pre_tokenizer = pre_tokenizers.Whitespace()
    t.save(str(other / "tokenizer.json"))
    with pytest.raises(UserError, match="built with the tokenizer"):
        NgramIndex(str(tmp_path / "tix"), tokenizer=str(other))
    ix = NgramIndex(str(tmp_path / "tix"))
    with pytest.raises(UserError, match="at most 1,000 tokens"):
        ix.count("word " * 2000)
    with pytest.raises(UserError, match="empty"):
        ix.count("")
    with pytest.raises(OutputConflictError):
        build_index(ds, str(tmp_path / "tix"))
    # a bytes index answers queries given as token ids of any tokenizer
    build_index(ds, str(tmp_path / "bix"))
    bix = NgramIndex(str(tmp_path / "bix"), tokenizer=str(tokenizer_dir))
    phrase = records[0]["text"][10:30]
    ids = (
        Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
        .encode(phrase, add_special_tokens=False)
        .ids
    )
    assert bix.count(bix.encode(ids=ids)) == bix.count(phrase) >= 1
    with pytest.raises(UserError, match="more than a shard holds"):
        build_index(ds, str(tmp_path / "small"), shard_units=10)
