"""Streaming text: multi-byte characters are never split, stop strings never leak, sampling honours its rows."""

from __future__ import annotations

import itertools
from pathlib import Path

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gencommons.backends.decoding import IncrementalDecoder, StopMatcher
from gencommons.backends.sampling import sample_next_tokens


def test_incremental_decoding_never_splits_a_character(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    text = "Héllo wörld, 日本語のテキスト — ñandú 🦜 done."
    ids = tok(text)["input_ids"]
    assert len(ids) > len(text) / 3  # a small vocabulary: many characters span several tokens
    d = IncrementalDecoder(tok)
    chunks = [d.push(i) for i in ids]
    assert "".join(chunks) + d.flush() == text
    assert not any("\ufffd" in c for c in chunks)


def _stream(text: str, cuts: list[int], stops: list[str]) -> tuple[str, bool]:
    m = StopMatcher(stops)
    out, bounds = [], sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    for a, b in itertools.pairwise(bounds):
        piece, hit = m.push(text[a:b])
        out.append(piece)
        if hit:
            return "".join(out), True
    return "".join(out) + m.flush(), False


def _first_stop(text: str, stops: list[str]) -> tuple[str, bool]:
    """Generation halts at the first position where some stop string is complete."""
    for end in range(1, len(text) + 1):
        done = [s for s in stops if text[:end].endswith(s)]
        if done:
            return text[: end - max(map(len, done))], True
    return text, False


texts = st.text(alphabet="ab\n", max_size=30)
stop_lists = st.lists(st.text(alphabet="ab\n", min_size=1, max_size=4), max_size=3)


@settings(max_examples=300, deadline=None)
@given(text=texts, stops=stop_lists)
def test_stop_matcher_one_character_at_a_time(text: str, stops: list[str]) -> None:
    assert _stream(text, list(range(len(text))), stops) == _first_stop(text, stops)


@settings(max_examples=300, deadline=None)
@given(text=texts, cuts=st.lists(st.integers(0, 40), max_size=10), stops=stop_lists)
def test_stop_matcher_any_chunking_never_leaks_a_stop(text: str, cuts: list[int], stops: list[str]) -> None:
    out, hit = _stream(text, cuts, stops)
    assert text.startswith(out)
    assert not any(s in out for s in stops)
    assert hit == any(s in text for s in stops)
    if not hit:
        assert out == text


def test_sampling_rows_are_independent() -> None:
    logits = torch.randn(3, 50)
    gens = [torch.Generator().manual_seed(s) for s in (1, 2, 1)]
    a = sample_next_tokens(logits, temperatures=[1.0, 0.0, 1.0], top_ps=[1.0, 1.0, 1.0], generators=gens)
    assert a[1] == int(logits[1].argmax())  # temperature 0 is greedy
    solo = sample_next_tokens(
        logits[2:], temperatures=[1.0], top_ps=[1.0], generators=[torch.Generator().manual_seed(1)]
    )
    assert a[2] == solo[0]  # a row's draw depends on its seed and logits only
    tiny_p = sample_next_tokens(logits, temperatures=[1.0] * 3, top_ps=[1e-6] * 3, generators=gens)
    assert tiny_p == logits.argmax(dim=-1).tolist()  # top_p -> 0 keeps only the most likely token
