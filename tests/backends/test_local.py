"""The local backend on a real tiny model: text, streams, seeds, stops, batching, bad requests."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gencommons.backends import GenerationParams, backend_from_spec
from gencommons.backends.local import LocalBackend
from gencommons.errors import BackendError, InvalidRequestError

CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Où est la gare ? 日本"}]


@pytest.fixture(scope="module")
def backend(tiny_model_dir: Path):  # type: ignore[no-untyped-def]
    b = LocalBackend(tiny_model_dir, max_batch_size=4)
    yield b
    b.close()


def test_generate_counts_tokens_and_stops_at_max_tokens(backend: LocalBackend) -> None:
    g = backend.generate("The quick brown fox", GenerationParams(max_tokens=12, ignore_eos=True, seed=1))
    assert g.finish_reason == "length"
    assert g.usage.completion_tokens == 12
    assert g.usage.prompt_tokens == len(backend.tokenizer("The quick brown fox")["input_ids"])
    assert backend.model == "tiny-llama"


def test_stream_reassembles_to_generate_and_seed_repeats(backend: LocalBackend) -> None:
    params = GenerationParams(max_tokens=40, seed=7, temperature=0.9, top_p=0.9)
    whole = backend.generate(CHAT, params)
    stream = backend.stream(CHAT, params)
    chunks = list(stream)
    assert "".join(chunks) == whole.text
    assert stream.result == whole
    assert len(chunks) > 1
    other = backend.generate(CHAT, GenerationParams(max_tokens=40, seed=8, temperature=0.9, top_p=0.9))
    assert other.text != whole.text


def test_stop_string_cuts_before_it(backend: LocalBackend) -> None:
    base = GenerationParams(max_tokens=40, seed=3, ignore_eos=True)
    full = backend.generate("Il était une fois", base).text
    stop = full[10:13]
    cut = backend.generate(
        "Il était une fois", GenerationParams(max_tokens=40, seed=3, stop=(stop, "\x00zz"))
    )
    assert cut.finish_reason == "stop"
    assert cut.text == full[: full.index(stop)]
    streamed = "".join(
        backend.stream("Il était une fois", GenerationParams(max_tokens=40, seed=3, stop=(stop,)))
    )
    assert streamed == cut.text


def test_concurrent_callers_are_batched_and_get_their_own_text(backend: LocalBackend) -> None:
    prompts = [("A B C " * (i % 3 + 1)) + str(i) for i in range(10)]  # 10 callers, batches of 4
    params = [GenerationParams(max_tokens=8 + 5 * (i % 4), seed=i, temperature=0.8) for i in range(10)]
    alone = [backend.generate(p, q).text for p, q in zip(prompts, params, strict=True)]

    def call(i: int) -> str:
        return "".join(backend.stream(prompts[i], params[i]))

    with ThreadPoolExecutor(10) as pool:
        together = list(pool.map(call, range(10)))
    assert together == alone


def test_async_twins(backend: LocalBackend) -> None:
    params = GenerationParams(max_tokens=10, seed=5)

    async def both() -> tuple[str, str]:
        g = await backend.agenerate(CHAT, params)
        s = backend.astream(CHAT, params)
        return g.text, "".join([c async for c in s])

    a, b = asyncio.run(both())
    assert a == b == backend.generate(CHAT, params).text


def test_bad_requests_are_clear(backend: LocalBackend, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="maximum context length is 512") as e:
        backend.generate("x" * 1_000_000)  # refused before tokenizing
    assert e.value.code == "context_length_exceeded"
    with pytest.raises(InvalidRequestError, match="maximum context length"):
        backend.generate([{"role": "user", "content": "word " * 600}])
    with pytest.raises(InvalidRequestError, match="max_tokens must be at least 1"):
        backend.generate("hi", GenerationParams(max_tokens=-1))
    with pytest.raises(BackendError, match="not a Hugging Face model folder"):
        LocalBackend(tmp_path)


def test_max_tokens_is_clipped_to_the_context(backend: LocalBackend) -> None:
    prompt = "word " * 120
    n = len(backend.tokenizer(prompt)["input_ids"])
    g = backend.generate(prompt, GenerationParams(max_tokens=10_000, ignore_eos=True))
    assert g.finish_reason == "length"
    assert g.usage.completion_tokens == 512 - n


def test_backend_from_spec(tiny_model_dir: Path) -> None:
    b = backend_from_spec(str(tiny_model_dir), model="named", max_batch_size=2)
    try:
        assert isinstance(b, LocalBackend)
        assert b.model == "named"
    finally:
        b.close()
    with pytest.raises(BackendError, match="neither a model folder"):
        backend_from_spec("no/such/folder")
