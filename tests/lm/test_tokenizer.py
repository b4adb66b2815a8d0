"""Tokenizer training: Hugging Face format, lossless round trip, manifest, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gencommons.errors import OutputConflictError, UserError
from gencommons.lm.tokenizer import MIN_VOCAB, SPECIAL_TOKENS, train_tokenizer


def test_autotokenizer_loads_it_with_manifest(tokenizer_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    assert len(tok) == 512
    assert tok.eos_token == "<|endoftext|>"
    assert tok.pad_token == "<|pad|>"
    for special in SPECIAL_TOKENS:
        assert tok.convert_tokens_to_ids(special) < len(SPECIAL_TOKENS)
    manifest = json.loads((tokenizer_dir / "manifest.json").read_text())
    assert manifest["kind"] == "tokenizer"
    assert manifest["counts"]["documents"] == 238  # 60 gutenberg + 178 debian-man records
    assert manifest["config"]["vocab_size"] == 512
    assert manifest["content_id"].startswith("sha256:")
    chat = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert "hi" in chat


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=200))
def test_round_trip_is_lossless(tokenizer_dir: Path, text: str) -> None:
    """Byte-level BPE: any Unicode string (emoji, NUL, lone combining marks) decodes back exactly."""
    from transformers import AutoTokenizer

    tok = _cached(tokenizer_dir, AutoTokenizer)
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text


_TOKS: dict[Path, object] = {}


def _cached(path: Path, cls: object) -> object:
    if path not in _TOKS:
        _TOKS[path] = cls.from_pretrained(path)  # type: ignore[attr-defined]
    return _TOKS[path]


def test_learns_merges_of_the_corpus(tokenizer_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    common = "the manual page of the command"
    assert len(tok(common)["input_ids"]) < len(common.encode()) / 2


def test_vocab_too_small(corpus_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match=f"at least {MIN_VOCAB}"):
        train_tokenizer(str(corpus_dir / "*.jsonl.gz"), str(tmp_path / "t"), vocab_size=100)
    assert not (tmp_path / "t").exists()


def test_empty_dataset_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "empty.jsonl"
    src.write_text('{"id": "a", "text": ""}\n')
    with pytest.raises(UserError, match="no non-empty"):
        train_tokenizer(str(src), str(tmp_path / "t"), vocab_size=300)
    assert not (tmp_path / "t").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["empty.jsonl"]  # no temporary folder left


def test_missing_dataset_and_existing_output(corpus_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no dataset here"):
        train_tokenizer(str(tmp_path / "nope"), str(tmp_path / "t"))
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "keep.txt").write_text("mine")
    with pytest.raises(OutputConflictError):
        train_tokenizer(str(corpus_dir / "gutenberg.jsonl.gz"), str(tmp_path / "t"), vocab_size=300)
    assert (tmp_path / "t" / "keep.txt").read_text() == "mine"


def test_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text('{"id": "a", "text": "fine"}\n{"id": "b", "text": \n')
    with pytest.raises(UserError, match=r"bad.jsonl:2"):
        train_tokenizer(str(src), str(tmp_path / "t"), vocab_size=300)
