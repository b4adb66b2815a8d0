"""The backend interface: what a model is to the rest of gencommons (arena, evaluations, the server).

A backend answers a *prompt* — a plain string (a completion) or a list of chat messages
(``[{"role": "user", "content": "Hi"}]``) — with :class:`GenerationParams`, four ways:

```
generate(prompt, params) -> Generation           # the whole text, finish reason, token counts
stream(prompt, params)   -> TextStream            # iterate text chunks; .result once exhausted
agenerate / astream                               # the same, for asyncio callers (the server, the arena)
```

:class:`BackendBase` derives ``generate`` from ``stream`` and the async pair from the sync pair (a thread
per call); a backend overrides what it can do better. This module holds no model code.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

Message = Mapping[str, str]
Prompt = str | Sequence[Message]
FinishReason = Literal["stop", "length"]


@dataclass(frozen=True, kw_only=True)
class GenerationParams:
    """How to sample. Defaults are OpenAI's, except ``max_tokens`` (the backend's own default when None)."""

    max_tokens: int | None = None  # new tokens at most; None: up to the model's context
    temperature: float = 1.0  # 0 is greedy
    top_p: float = 1.0  # nucleus sampling: smallest set of tokens whose probability reaches top_p
    stop: tuple[str, ...] = ()  # generation ends before the first of these; the stop text is not returned
    seed: int | None = None  # same seed, same prompt, same params -> same text
    ignore_eos: bool = False  # keep going past end-of-sequence (benchmarks; vLLM's extension)


DEFAULT_PARAMS = GenerationParams()


@dataclass(frozen=True, kw_only=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, kw_only=True)
class Generation:
    text: str
    finish_reason: FinishReason
    usage: Usage = field(default_factory=Usage)


class FinishFn(Protocol):
    def __call__(self, text: str) -> Generation: ...


class _Collector:
    """Keeps the chunks a stream has yielded, to build its ``result`` at the end."""

    def __init__(self, finish: FinishFn):
        self._finish = finish
        self._parts: list[str] = []
        self.result: Generation | None = None

    def _keep(self, chunk: str) -> str:
        self._parts.append(chunk)
        return chunk

    def _end(self) -> None:
        if self.result is None:
            self.result = self._finish("".join(self._parts))


class TextStream(_Collector, Iterator[str]):
    """Text chunks as they are generated; ``result`` holds the :class:`Generation` once exhausted.

    Example:
        >>> s = TextStream(iter(["Hel", "lo"]), lambda text: Generation(text=text, finish_reason="stop"))
        >>> "".join(s), s.result.text
        ('Hello', 'Hello')
    """

    def __init__(self, chunks: Iterator[str], finish: FinishFn):
        super().__init__(finish)
        self._chunks = chunks

    def __next__(self) -> str:
        try:
            return self._keep(next(self._chunks))
        except StopIteration:
            self._end()
            raise


class AsyncTextStream(_Collector, AsyncIterator[str]):
    """The asyncio twin of :class:`TextStream`."""

    def __init__(self, chunks: AsyncIterator[str], finish: FinishFn):
        super().__init__(finish)
        self._chunks = chunks

    async def __anext__(self) -> str:
        try:
            return self._keep(await anext(self._chunks))
        except StopAsyncIteration:
            self._end()
            raise

    async def aclose(self) -> None:
        """Stop early (a client went away): the backend stops generating for this request."""
        close = getattr(self._chunks, "aclose", None)
        if close is not None:
            await close()


@runtime_checkable
class Backend(Protocol):
    """One model behind one interface. ``model`` is the name it answers to."""

    @property
    def model(self) -> str: ...

    def generate(self, prompt: Prompt, params: GenerationParams = ...) -> Generation: ...
    def stream(self, prompt: Prompt, params: GenerationParams = ...) -> TextStream: ...
    async def agenerate(self, prompt: Prompt, params: GenerationParams = ...) -> Generation: ...
    def astream(self, prompt: Prompt, params: GenerationParams = ...) -> AsyncTextStream: ...
    def close(self) -> None: ...


class BackendBase:
    """Defaults: ``generate`` collects ``stream``; the async pair runs the sync pair in a thread."""

    model: str = ""

    def stream(self, prompt: Prompt, params: GenerationParams = DEFAULT_PARAMS) -> TextStream:
        raise NotImplementedError

    def generate(self, prompt: Prompt, params: GenerationParams = DEFAULT_PARAMS) -> Generation:
        s = self.stream(prompt, params)
        for _ in s:
            pass
        assert s.result is not None
        return s.result

    async def agenerate(self, prompt: Prompt, params: GenerationParams = DEFAULT_PARAMS) -> Generation:
        return await asyncio.to_thread(self.generate, prompt, params)

    def astream(self, prompt: Prompt, params: GenerationParams = DEFAULT_PARAMS) -> AsyncTextStream:
        holder: list[TextStream] = []

        async def chunks() -> AsyncIterator[str]:
            loop = asyncio.get_running_loop()
            q: asyncio.Queue[tuple[str, object]] = asyncio.Queue()
            stop = threading.Event()

            def deliver(item: tuple[str, object]) -> None:
                try:
                    loop.call_soon_threadsafe(q.put_nowait, item)
                except RuntimeError:  # the event loop is closed (the server stopped): nobody listens
                    stop.set()

            def pump() -> None:  # the sync stream, in its own thread, feeding the event loop
                try:
                    s = self.stream(prompt, params)
                    holder.append(s)
                    for chunk in s:
                        if stop.is_set():
                            break
                        deliver(("chunk", chunk))
                    deliver(("end", None))
                except Exception as e:  # noqa: BLE001 (delivered to the awaiting caller)
                    deliver(("error", e))

            threading.Thread(target=pump, daemon=True).start()
            try:
                while True:
                    kind, value = await q.get()
                    if kind == "chunk":
                        yield str(value)
                    elif kind == "error":
                        assert isinstance(value, BaseException)
                        raise value
                    else:
                        return
            finally:
                stop.set()

        def finish(text: str) -> Generation:
            assert holder
            assert holder[0].result is not None
            return holder[0].result

        return AsyncTextStream(chunks(), finish)

    def close(self) -> None:
        """Free what the backend holds (threads, connections)."""
