"""exact_dedup against a reference: keep the first copy of each normalized text, whatever the shards
and partitions."""

from __future__ import annotations

import tempfile

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gencommons.data.dedup import _unicode
from gencommons.data.dedup.exact import REASON, ExactDedup, ExactDedupParams, normalized_texts


def _reference(shards: list[list[str]]) -> list[list[bool]]:
    """True = duplicate of an earlier (shard, row), comparing case-folded whitespace-normalized text."""
    seen: set[str] = set()
    out = []
    for docs in shards:
        flags = []
        for t in docs:
            key = " ".join(t.casefold().split())
            flags.append(key in seen)
            seen.add(key)
        out.append(flags)
    return out


def _run(shards: list[list[str]], partitions: int, batch: int) -> list[list[bool]]:
    step, p = ExactDedup(), ExactDedupParams(partitions=partitions)
    with tempfile.TemporaryDirectory() as wd:
        for s, docs in enumerate(shards):
            for part, start in enumerate(range(0, len(docs), batch)):
                chunk = docs[start : start + batch]
                step.save_signatures(
                    pa.table({"text": pa.array(chunk, pa.large_string())}),
                    p,
                    workdir=wd,
                    shard=s,
                    part=part,
                    first_row=start,
                )
            step.finish_signatures(p, workdir=wd, shard=s)
        (stage,) = step.reduce_stages
        for t in range(stage.tasks(p, len(shards))):
            stage.run(wd, t, len(shards), p)
        out = []
        for s, docs in enumerate(shards):
            dec = step.decisions(p, workdir=wd, shard=s, n_rows=len(docs))
            assert set(dec["reason"].drop_null().to_pylist()) <= {REASON}
            out.append([r is not None for r in dec["reason"].to_pylist()])
        return out


words = st.sampled_from(
    [
        "a",
        "A",
        "b",
        "b ",
        " c",
        "\td",
        "é",
        "É",
        "日本",
        "x\ny",
        "",
        "ß",
        "SS",
        "ss",
        "ΟΔΟΣ",
        "οδος",
        "\u3000e",
    ]
)
doc = st.lists(words, max_size=4).map(" ".join)


@settings(max_examples=80, deadline=None)
@given(
    shards=st.lists(st.lists(doc, max_size=12), min_size=1, max_size=5),
    partitions=st.integers(1, 7),
    batch=st.integers(1, 5),
)
def test_matches_reference(shards: list[list[str]], partitions: int, batch: int) -> None:
    assert _run(shards, partitions, batch) == _reference(shards)


@settings(max_examples=20, deadline=None)
@given(shards=st.lists(st.lists(doc, max_size=10), min_size=1, max_size=4))
def test_idempotent(shards: list[list[str]]) -> None:
    first = _run(shards, 3, 4)
    survivors = [
        [t for t, dup in zip(docs, flags, strict=True) if not dup]
        for docs, flags in zip(shards, first, strict=True)
    ]
    assert all(not any(f) for f in _run(survivors, 5, 2))


def test_empty_and_whitespace_documents_are_one_text() -> None:
    assert _run([["", "  ", "\n"], ["\t"]], 2, 10) == [[False, True, True], [True]]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.sampled_from(list("ab \t\n\r\x0b\x0c\x1c\x85\xa0\u2003\u3000É")), max_size=12),
        max_size=20,
    )
)
def test_whitespace_collapse_equals_the_plain_pattern(texts: list[str]) -> None:
    import polars as pl

    from gencommons.data.dedup.exact import normalized_hashes

    plain = (
        pl.Series(texts, dtype=pl.String).str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
    )
    import xxhash

    want = [xxhash.xxh3_64_intdigest(t.encode("utf-8")) for t in plain.to_list()]
    got = normalized_hashes(pa.array(texts, pa.large_string()), ExactDedupParams()).tolist()
    assert got == want


def _normalize_reference(text: str, *, fold: bool, collapse: bool) -> str:
    """What exact_dedup compares: ``str.casefold`` (Unicode full case folding), then every run of
    ``\\s`` (polars' White_Space, ``_unicode.SPACE``) one space, none at either end."""
    classes = _unicode.classes()
    t = text.casefold() if fold else text
    if not collapse:
        return t
    words, cur = [], []
    for ch in t:
        if ord(ch) < len(classes) and classes[ord(ch)] & _unicode.SPACE_BIT:
            if cur:
                words.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
    if cur:
        words.append("".join(cur))
    return " ".join(words)


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.text(max_size=40), max_size=8), fold=st.booleans(), collapse=st.booleans())
def test_compiled_normalization_matches_the_reference(texts: list[str], fold: bool, collapse: bool) -> None:
    texts = [t.encode("utf-8", "replace").decode("utf-8") for t in texts]  # no lone surrogates in Arrow
    p = ExactDedupParams(lowercase=fold, collapse_whitespace=collapse)
    got = [bytes(v).decode("utf-8") for v in normalized_texts(pa.array(texts, pa.string()), p)]
    assert got == [_normalize_reference(t, fold=fold, collapse=collapse) for t in texts]
    # a column in chunks (as the reader gives batches) is normalized chunk by chunk, to the same texts
    chunked = pa.chunked_array([pa.array(texts[:3], pa.string()), pa.array(texts[3:], pa.string())])
    assert [bytes(v).decode("utf-8") for v in normalized_texts(chunked, p)] == got


def test_case_variants_are_exact_duplicates() -> None:
    assert _run([["Die Straße", "DIE STRASSE", "die strasse ", "ΟΔΟΣ", "οδος", "die strase"]], 2, 10) == [
        [False, True, True, False, True, False]
    ]


def test_normalization_buffer_spans_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Documents are normalized ~1 MB of input at a time; the cut between calls changes nothing."""
    from gencommons.data.dedup import exact

    texts = [f"Doc {i} ΐ  ß\tEND " * (i % 7 + 1) for i in range(300)]
    whole = [bytes(v) for v in normalized_texts(pa.array(texts), ExactDedupParams())]
    monkeypatch.setattr(exact, "NORMALIZE_CHUNK", 97)
    assert [bytes(v) for v in normalized_texts(pa.array(texts), ExactDedupParams())] == whole
