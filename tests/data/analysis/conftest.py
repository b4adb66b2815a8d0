"""Fixtures of the analysis tests: a small pipeline-shaped dataset from the real test corpus, a tiny
trained tokenizer."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest


def corpus_records(corpus_dir: Path) -> list[dict]:
    recs = []
    for name in ("gutenberg", "debian-man"):
        with gzip.open(corpus_dir / f"{name}.jsonl.gz", "rt", encoding="utf-8") as fh:
            recs.extend(json.loads(line) for line in fh)
    return recs


@pytest.fixture(scope="session")
def records(corpus_dir: Path) -> list[dict]:
    return corpus_records(corpus_dir)


@pytest.fixture(scope="session")
def dataset_dir(records: list[dict], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test corpus as a pipeline output: data/part-*.parquet (2 files) + manifest.json with a dedup step."""
    root = tmp_path_factory.mktemp("ds") / "corpus"
    (root / "data").mkdir(parents=True)
    cols = ("id", "text", "source", "license", "lang")
    rows = [{c: r.get(c) for c in cols} for r in records]
    for i, (u, r) in enumerate(zip(range(len(rows)), rows, strict=True)):
        r["url"] = f"https://www.site{u % 7}.example.org/page/{i}" if i % 3 else None
        r["score"] = (i % 100) / 100
    half = len(rows) // 2
    for k, part in enumerate((rows[:half], rows[half:])):
        pq.write_table(pa.Table.from_pylist(part), root / "data" / f"part-{k:05d}-0000.parquet")
    manifest = {
        "kind": "dataset",
        "content_id": "sha256:test",
        "steps": [
            {
                "name": "length",
                "kind": "filter",
                "mode": "filter",
                "docs_in": 1000,
                "docs_out": 990,
                "dropped": {"length:too_few_words": 10},
                "counts": {},
            },
            {
                "name": "exact_dedup",
                "kind": "global",
                "mode": "filter",
                "docs_in": 990,
                "docs_out": len(rows),
                "dropped": {"exact_dedup:duplicate": 990 - len(rows)},
                "counts": {},
            },
        ],
        "licenses": {"output": {"MIT": 3}, "result": "MIT"},
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


@pytest.fixture(scope="session")
def tokenizer_dir(records: list[dict], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A byte-level BPE of 300 tokens trained on the test corpus (a second of CPU)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator((r["text"][:2000] for r in records), trainer=trainer)
    folder = tmp_path_factory.mktemp("tok")
    tok.save(str(folder / "tokenizer.json"))
    return folder
