"""Contamination against a brute-force n-gram set (Python tuples of words), the HTML, bad eval files,
and the ``decontaminate`` step in a real pipeline (filter and annotate modes, counted in the manifest)."""

from __future__ import annotations

import gzip
import json
import random
import re
from pathlib import Path

import polars as pl
import pytest

from gencommons.data.analysis.contamination import check_contamination, render_contamination
from gencommons.data.config import PipelineConfig
from gencommons.data.pipeline import Pipeline
from gencommons.errors import UserError
from gencommons.lineage.manifest import read_manifest


def _words(text: str) -> list[str]:
    return [w.lower() for w in re.findall(r"\w+", text)]


def _grams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _make_evals(records: list[dict], path: Path, *, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    vocab = sorted({w for r in records[:20] for w in _words(r["text"])})
    out = []
    for i in range(40):
        kind = i % 4
        if kind == 0:  # a verbatim span of a corpus document (question) + random answer
            w = records[rng.randrange(len(records))]["text"].split()
            a = rng.randrange(max(1, len(w) - 30))
            q, ans = " ".join(w[a : a + 25]), " ".join(rng.choices(vocab, k=5))
        elif kind == 1:  # random words: clean
            q, ans = " ".join(rng.choices(vocab, k=30)), "x"
        elif kind == 2:  # half copied, half random
            w = records[rng.randrange(len(records))]["text"].split()
            q, ans = " ".join(w[:15] + rng.choices(vocab, k=15)), "y"
        else:  # too short
            q, ans = "What is two plus two?", "four"
        out.append({"id": f"ex{i}", "question": q, "answer": ans})
    path.write_text("".join(json.dumps(r) + "\n" for r in out))
    return out


@pytest.mark.parametrize("n", [13, 8])
def test_matches_brute_force(dataset_dir: Path, records: list[dict], tmp_path: Path, n: int) -> None:
    evals = _make_evals(records, tmp_path / "qa.jsonl")
    r = check_contamination(str(dataset_dir), [str(tmp_path / "qa.jsonl")], n=n, batch_rows=50)
    texts = pl.read_parquet(dataset_dir / "data")["text"].to_list()
    ids = pl.read_parquet(dataset_dir / "data")["id"].to_list()
    corpus = set().union(*(_grams(_words(t), n) for t in texts))
    lines = [" " + " ".join(_words(t)) + " " for t in texts]
    joined = "\n".join(lines)
    got = {x["id"]: x for x in r["examples"]}
    flagged = 0
    for e in evals:
        words = _words(e["question"] + "\n" + e["answer"])
        grams = _grams(words, n)
        x = got[e["id"]]
        if not grams:
            assert x["too_short"]
            assert not x["contaminated"]
            continue
        frac = len(grams & corpus) / len(grams)
        assert x["fraction"] == pytest.approx(frac)
        assert x["contaminated"] == (frac > 0)
        flagged += frac > 0
        docs = [i for i, t in zip(ids, texts, strict=True) if _grams(_words(t), n) & grams]
        assert x["matching_documents"] == len(docs)
        assert x["document_ids"] == docs[:10]
        # the longest span of >= n words found verbatim in one document, and the first such document
        best, span = 0, ""
        for i in range(len(words)):
            size = max(n, best + 1)
            while i + size <= len(words) and f" {' '.join(words[i : i + size])} " in joined:
                best, span = size, " ".join(words[i : i + size])
                size += 1
        assert x["longest_span_words"] == best
        assert x["longest_span"] == span
        where = [i for i, line in zip(ids, lines, strict=True) if span and f" {span} " in line]
        assert x["longest_span_document"] == (where[0] if span else None)
    b = r["benchmarks"]["qa"]
    assert b["examples"] == 40
    assert b["contaminated"] == flagged
    assert b["rate"] == flagged / 40
    assert flagged >= 10  # the verbatim copies
    html = render_contamination(r)
    assert "<h2>Benchmarks</h2>" in html


def test_longest_span_is_verbatim_in_one_document(tmp_path: Path) -> None:
    """Two documents overlap in the example: every 8-gram occurs somewhere, but no document holds more
    than 26 of its 40 words in a row (a run of found n-grams would say 40)."""
    words = [f"w{k}" for k in range(40)]
    import pyarrow as pa
    import pyarrow.parquet as pq

    docs = ["intro " + " ".join(words[:25]) + " outro", "start " + " ".join(words[14:]) + " end"]
    pq.write_table(pa.table({"id": ["a", "b"], "text": docs}), tmp_path / "c.parquet")
    (tmp_path / "ev.jsonl").write_text(
        json.dumps({"id": "q", "question": " ".join(words), "answer": ""}) + "\n"
    )
    r = check_contamination(str(tmp_path / "c.parquet"), [str(tmp_path / "ev.jsonl")], n=8)
    (x,) = r["examples"]
    assert x["fraction"] == 1.0
    assert x["longest_span_words"] == 26
    assert x["longest_span"] == " ".join(words[14:])
    assert x["longest_span_document"] == "b"
    assert x["matching_documents"] == 2


def test_bad_eval_files(dataset_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "question": "q"}\n')
    with pytest.raises(
        UserError, match=r"bad.jsonl:1: no field 'answer' \(the record has 'id', 'question'\)"
    ):
        check_contamination(str(dataset_dir), [str(bad)])
    bad.write_text('{"question": "q", "answer": "a"}\nnot json\n')
    with pytest.raises(UserError, match=r"bad\.jsonl:2: not valid JSON"):
        check_contamination(str(dataset_dir), [str(bad)])
    with pytest.raises(UserError, match="no such eval file"):
        check_contamination(str(dataset_dir), [str(tmp_path / "none.jsonl")])
    gz = tmp_path / "t.jsonl.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write('{"text": "a b c"}\n')
    r = check_contamination(str(dataset_dir), [str(gz)], fields=("text",), n=2)
    assert r["benchmarks"]["t"]["examples"] == 1


@pytest.mark.parametrize("mode", ["filter", "annotate"])
def test_decontaminate_step(corpus_dir: Path, records: list[dict], tmp_path: Path, mode: str) -> None:
    evals = _make_evals(records, tmp_path / "qa.jsonl")
    cfg = PipelineConfig.from_dict(
        {
            "input": [{"path": str(corpus_dir / "*.jsonl.gz")}],
            "steps": [{"decontaminate": {"evals": [str(tmp_path / "qa.jsonl")], "mode": mode}}],
            "output": {"path": str(tmp_path / "out")},
            "executor": {"kind": "local", "workers": 1},
        }
    )
    Pipeline(cfg).run()
    eval_grams = set().union(*(_grams(_words(e["question"] + "\n" + e["answer"]), 13) for e in evals))
    dirty = {r["id"] for r in records if _grams(_words(r["text"]), 13) & eval_grams}
    assert dirty
    m = read_manifest(str(tmp_path / "out"))
    step = m["steps"][0]
    assert step["name"] == "decontaminate"
    out = pl.read_parquet(tmp_path / "out" / "data")
    if mode == "filter":
        assert step["dropped"] == {"decontaminate:eval_ngram": len(dirty)}
        assert set(out["id"]) == {r["id"] for r in records} - dirty
    else:
        assert out.height == len(records)
        flagged = set(out.filter(pl.col("decontaminate_reason").is_not_null())["id"])
        assert flagged == dirty
