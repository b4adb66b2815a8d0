"""The local backend: a Hugging Face model folder run in this process, batched across callers.

Loads ``AutoTokenizer`` + ``AutoModelForCausalLM`` (on the GPU when ``torch.cuda.is_available()``, else
the CPU) and hands every request to one :class:`~gencommons.backends.batching.BatchEngine`, so threads and
asyncio tasks calling ``stream``/``astream`` at the same time share forward passes. Chat messages go
through the tokenizer's chat template, or :data:`~gencommons.backends.chat_template.DEFAULT_CHAT_TEMPLATE`.
"""

from __future__ import annotations

import asyncio
import queue
import random
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from gencommons.backends.chat_template import END_OF_TURN, render_chat
from gencommons.backends.interface import (
    DEFAULT_PARAMS,
    AsyncTextStream,
    BackendBase,
    Generation,
    GenerationParams,
    Prompt,
    TextStream,
)
from gencommons.errors import BackendError, InvalidRequestError

DEFAULT_COMPLETION_TOKENS = 16  # OpenAI's default max_tokens for /v1/completions


class LocalBackend(BackendBase):
    """A local Hugging Face causal LM.

    Args:
        path: the model folder (``config.json``, weights, tokenizer files).
        model: the name it answers to (default: the folder's name).
        device: ``cuda``, ``cpu``, ... (default: ``cuda`` when available).
        max_batch_size: most requests decoded together.

    Example:
        >>> b = LocalBackend("my-model")                                     # doctest: +SKIP
        >>> b.generate([{"role": "user", "content": "Hi"}], GenerationParams(max_tokens=8)).text  # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | Path,
        *,
        model: str | None = None,
        device: str | None = None,
        max_batch_size: int = 32,
    ):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from gencommons.backends.batching import BatchEngine

        folder = Path(path)
        if not (folder / "config.json").is_file():
            raise BackendError(
                f"{folder} is not a Hugging Face model folder (no config.json). Give the folder that "
                "save_pretrained wrote, or an http(s):// URL of an OpenAI-compatible server.",
                url=str(folder),
            )
        self.model = model or folder.resolve().name
        self.path = folder
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        lm: Any = AutoModelForCausalLM.from_pretrained(folder, dtype="auto")
        self.lm: Any = getattr(lm, "to")(device).eval()  # noqa: B009 (transformers types .to wrongly)
        self.context = int(getattr(self.lm.config, "max_position_embeddings", 0) or 1 << 30)
        vocab = self.tokenizer.get_vocab()
        # a token never covers more characters than its longest vocabulary entry: a cheap lower bound on
        # a text's token count, to refuse a 1 MB prompt without tokenizing it
        self.max_token_chars = max((len(t) for t in vocab), default=1)
        stop_ids = {i for i in _as_list(self.lm.generation_config.eos_token_id) if i is not None}
        stop_ids |= {i for i in _as_list(self.tokenizer.eos_token_id) if i is not None}
        if END_OF_TURN in vocab:
            stop_ids.add(vocab[END_OF_TURN])
        pad = self.tokenizer.pad_token_id
        self.engine = BatchEngine(
            self.lm,
            stop_token_ids=stop_ids,
            max_batch_size=max_batch_size,
            pad_token_id=pad if pad is not None else min(stop_ids, default=0),
        )

    def close(self) -> None:
        self.engine.close()

    def _job(self, prompt: Prompt, params: GenerationParams, put: Callable[[tuple[str, Any]], None]) -> Any:
        import torch

        from gencommons.backends.batching import Job
        from gencommons.backends.decoding import IncrementalDecoder

        is_chat = not isinstance(prompt, str)
        text = prompt if isinstance(prompt, str) else render_chat(self.tokenizer, prompt)
        param = "messages" if is_chat else "prompt"
        if len(text) > self.context * self.max_token_chars:
            raise _too_long(f"at least {len(text) // self.max_token_chars}", self.context, param)
        ids = self.tokenizer(text, add_special_tokens=not is_chat)["input_ids"]
        if not ids:
            raise InvalidRequestError("The prompt is empty.", param=param)
        if len(ids) >= self.context:
            raise _too_long(str(len(ids)), self.context, param)
        if params.max_tokens is not None and params.max_tokens < 1:
            raise InvalidRequestError(
                f"max_tokens must be at least 1, not {params.max_tokens}.", param="max_tokens"
            )
        room = self.context - len(ids)
        default = DEFAULT_COMPLETION_TOKENS if not is_chat else room
        seed = params.seed if params.seed is not None else random.getrandbits(63)
        return Job(
            prompt_ids=list(ids),
            params=params,
            max_tokens=min(params.max_tokens or default, room),
            put=put,
            decoder=IncrementalDecoder(self.tokenizer),
            generator=torch.Generator().manual_seed(seed),
        )

    def stream(self, prompt: Prompt, params: GenerationParams = DEFAULT_PARAMS) -> TextStream:
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        job = self._job(prompt, params, events.put)
        self.engine.submit(job)
        done: list[Generation] = []

        def chunks() -> Iterator[str]:
            try:
                while True:
                    kind, value = events.get()
                    if not _handle(kind, value, done):
                        return
                    yield value
            finally:
                job.cancelled = True  # a no-op once done; stops the row when the caller gives up

        return TextStream(chunks(), lambda _text: done[0])

    def astream(self, prompt: Prompt, params: GenerationParams = DEFAULT_PARAMS) -> AsyncTextStream:
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def put(event: tuple[str, Any]) -> None:  # called by the engine's thread
            loop.call_soon_threadsafe(events.put_nowait, event)

        job = self._job(prompt, params, put)
        self.engine.submit(job)
        done: list[Generation] = []

        async def chunks() -> AsyncIterator[str]:
            try:
                while True:
                    kind, value = await events.get()
                    if not _handle(kind, value, done):
                        return
                    yield value
            finally:
                job.cancelled = True

        return AsyncTextStream(chunks(), lambda _text: done[0])

    async def agenerate(self, prompt: Prompt, params: GenerationParams = DEFAULT_PARAMS) -> Generation:
        s = self.astream(prompt, params)
        async for _ in s:
            pass
        assert s.result is not None
        return s.result


def _handle(kind: str, value: Any, done: list[Generation]) -> bool:
    """True for a text chunk; records the result of "done"; raises the engine's error."""
    if kind == "error":
        raise BackendError(f"Generation failed: {value}", url="local") from value
    if kind == "done":
        done.append(value)
        return False
    return True


def _too_long(n: str, context: int, param: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"This model's maximum context length is {context} tokens, but the prompt has {n} tokens. "
        "Shorten the prompt.",
        param=param,
        code="context_length_exceeded",
    )


def _as_list(x: Any) -> list[Any]:
    return list(x) if isinstance(x, list | tuple | set) else [x]
