"""Packing: sequences are chunks of the sources' token streams, mixture weights hold, deterministic."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gencommons.errors import UserError
from gencommons.lm.pack import Packed, SourceStats, _plan, pack, parse_sources, parse_weights


def test_layout_and_index(packed_dir: Path) -> None:
    p = Packed(str(packed_dir))
    assert p.train.shape[1] == 64
    assert p.train.dtype == np.uint16
    assert set(p.sources) == {"gutenberg", "debian-man"}
    idx = p.index
    assert idx["train"]["sequences"] == p.train.shape[0] == p.train_source.size
    for s, info in idx["sources"].items():
        assert info["tokens_packed"] == info["sequences"] * 64
        assert info["epochs"] <= 1.0  # the default mixture repeats nothing
        assert info["val"]["documents"] > 0
        assert len(p.val(s)) == info["val"]["tokens"]
    counts = np.bincount(p.train_source, minlength=2)
    assert [int(c) for c in counts] == [idx["sources"][s]["sequences"] for s in p.sources]
    m = json.loads((packed_dir / "manifest.json").read_text())
    assert m["kind"] == "packed-dataset"
    assert any(i.get("role") == "tokenizer" for i in m["inputs"])


def test_sequences_are_chunks_of_the_documents(
    packed_dir: Path, tokenizer_dir: Path, corpus_dir: Path
) -> None:
    """Reference: tokenize the corpus independently; every packed row must occur in its source stream."""
    import gzip

    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    p = Packed(str(packed_dir))
    val_ids = set()
    streams: dict[str, list[int]] = {"gutenberg": [], "debian-man": []}
    val_streams: dict[str, list[int]] = {"gutenberg": [], "debian-man": []}
    from gencommons.lm.pack import _val_mask

    for name in ("debian-man", "gutenberg"):
        with gzip.open(corpus_dir / f"{name}.jsonl.gz", "rt") as fh:
            recs = [json.loads(line) for line in fh]
        mask = _val_mask([r["id"] for r in recs], 0.1)
        for r, is_val in zip(recs, mask, strict=True):
            if not r["text"]:
                continue
            ids = tok(r["text"], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
            (val_streams if is_val else streams)[r["source"]].extend(ids)
            if is_val:
                val_ids.add(r["id"])
    for s in p.sources:
        chunks = [tuple(streams[s][i : i + 64]) for i in range(0, len(streams[s]) - 63, 64)]
        rows = p.train[p.train_source == p.sources.index(s)]
        # the first `sequences` chunks of the stream, each once (epochs <= 1), in a shuffled order
        assert Counter(map(tuple, rows.tolist())) == Counter(chunks[: len(rows)])
        assert p.val(s).tolist() == val_streams[s]
    assert val_ids  # some documents were held out


def test_weights_and_repetition(corpus_dir: Path, tokenizer_dir: Path, tmp_path: Path) -> None:
    idx = pack(
        [str(corpus_dir / "*.jsonl.gz")],
        str(tmp_path / "p"),
        tokenizer=str(tokenizer_dir),
        seq_len=32,
        weights={"gutenberg": 0.75, "debian-man": 0.25},
        tokens=200_000,
        progress=False,
    )
    s = idx["sources"]
    assert s["gutenberg"]["tokens_asked"] == 150_000
    assert s["debian-man"]["tokens_asked"] == 50_000
    for info in s.values():
        assert abs(info["tokens_packed"] - info["tokens_asked"]) <= 16  # rounding to whole sequences
    assert s["gutenberg"]["epochs"] > 1  # more asked than there is: repeated, and said so
    p = Packed(str(tmp_path / "p"))
    share = float(np.mean(p.train_source == p.sources.index("gutenberg")))
    assert share == pytest.approx(0.75, abs=0.001)


def test_deterministic_for_a_seed(
    corpus_dir: Path, tokenizer_dir: Path, tmp_path: Path, packed_dir: Path
) -> None:
    kw = {"tokenizer": str(tokenizer_dir), "seq_len": 64, "val_fraction": 0.1, "progress": False}
    pack([str(corpus_dir / "*.jsonl.gz")], str(tmp_path / "a"), **kw)  # type: ignore[arg-type]
    pack([str(corpus_dir / "*.jsonl.gz")], str(tmp_path / "b"), seed=1, **kw)  # type: ignore[arg-type]
    same, other = Packed(str(tmp_path / "a")), Packed(str(tmp_path / "b"))
    ref = Packed(str(packed_dir))
    assert np.array_equal(same.train, ref.train)
    assert np.array_equal(same.train_source, ref.train_source)
    assert not np.array_equal(other.train, ref.train)  # another seed, another order
    assert sorted(map(tuple, other.train.tolist())) == sorted(
        map(tuple, ref.train.tolist())
    )  # same sequences
    assert np.array_equal(
        other.val("gutenberg"), ref.val("gutenberg")
    )  # the split does not depend on the seed


def test_named_sources_and_errors(corpus_dir: Path, tokenizer_dir: Path, tmp_path: Path) -> None:
    g, d = str(corpus_dir / "gutenberg.jsonl.gz"), str(corpus_dir / "debian-man.jsonl.gz")
    idx = pack(
        [f"books={g}", f"man={d}"],
        str(tmp_path / "p"),
        tokenizer=str(tokenizer_dir),
        seq_len=64,
        progress=False,
    )
    assert set(idx["sources"]) == {"books", "man"}
    with pytest.raises(UserError, match=r"unknown source.*web.*sources are: books, man"):
        pack(
            [f"books={g}", f"man={d}"],
            str(tmp_path / "q"),
            tokenizer=str(tokenizer_dir),
            weights={"web": 1, "books": 1, "man": 1},
            progress=False,
        )
    with pytest.raises(UserError, match=r"No --weight for source.*man"):
        pack(
            [f"books={g}", f"man={d}"],
            str(tmp_path / "q"),
            tokenizer=str(tokenizer_dir),
            weights={"books": 1},
            progress=False,
        )
    with pytest.raises(UserError, match="--seq-len 10000000 training tokens"):
        pack([g], str(tmp_path / "q"), tokenizer=str(tokenizer_dir), seq_len=10**7, progress=False)
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"text": ""}\n')
    with pytest.raises(UserError, match="empty datasets"):
        pack([str(empty)], str(tmp_path / "q"), tokenizer=str(tokenizer_dir), progress=False)
    assert not (tmp_path / "q").exists()
    with pytest.raises(UserError, match="no tokenizer folder"):
        pack([g], str(tmp_path / "q"), tokenizer=str(tmp_path / "none"), progress=False)


def test_hostile_source_names_stay_inside(tokenizer_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "x.jsonl"
    lines = [
        json.dumps({"id": str(i), "text": "word " * 200, "source": "../../etc/passwd" if i % 2 else "a/b"})
        for i in range(20)
    ]
    src.write_text("\n".join(lines) + "\n")
    idx = pack([str(src)], str(tmp_path / "p"), tokenizer=str(tokenizer_dir), seq_len=16, progress=False)
    assert set(idx["sources"]) == {"../../etc/passwd", "a/b"}
    files = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    assert all(f.startswith("p/") or f == "x.jsonl" for f in files)


@settings(max_examples=200, deadline=None)
@given(
    tokens=st.lists(st.integers(0, 50_000), min_size=1, max_size=5),
    weights=st.lists(st.floats(0, 10), min_size=5, max_size=5),
    seq_len=st.integers(2, 512),
    total=st.one_of(st.none(), st.integers(512, 10**6)),
)
def test_plan_properties(tokens: list[int], weights: list[float], seq_len: int, total: int | None) -> None:
    """Weights are honoured up to rounding; without --tokens no source repeats; epochs are reported."""
    stats = {f"s{i}": SourceStats(tokens=t) for i, t in enumerate(tokens)}
    w = {f"s{i}": weights[i] for i in range(len(tokens))}
    try:
        plan = _plan(stats, w, seq_len, total)
    except UserError:
        return  # all-zero weights, a weighted source with less than one sequence, or nothing to pack
    wsum = sum(w.values())
    for n, p in plan.items():
        assert p["weight"] == pytest.approx(w[n] / wsum)
        # within half a sequence of the exact ask; tokens_asked is that ask rounded to a whole token
        assert abs(p["tokens_packed"] - p["tokens_asked"]) <= seq_len / 2 + 0.5 + 1e-6
        if p["sequences"]:
            assert p["epochs"] == pytest.approx(p["sequences"] / p["available_sequences"])
        if total is None:
            assert p["sequences"] <= p["available_sequences"] + 1  # +1: rounding up half a sequence


def test_parsers() -> None:
    assert parse_weights(["web=0.6,code=0.3", "books=0.1"]) == {"web": 0.6, "code": 0.3, "books": 0.1}
    for bad in (["web"], ["web=-1"], ["=1"], ["web=nan"], ["web=x"]):
        with pytest.raises(UserError, match="NAME=WEIGHT"):
            parse_weights(bad)
    assert parse_sources(["web=data/w", "data/b"]) == [("web", "data/w"), (None, "data/b")]
