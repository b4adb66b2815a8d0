"""Continuous batching: one worker thread runs the model for every waiting request at once.

Requests (:class:`Job`) arrive on a queue from any thread. The worker loops:

1. **admit** — at every step boundary it takes waiting jobs (up to ``max_batch_size`` rows in all), runs
   their prompts through the model together (left-padded to the longest, ``position_ids`` counted from each
   row's first real token), samples each one's first token and merges their KV cache into the running
   batch: both sides are left-padded to the same length and concatenated along the batch dimension;
2. **decode** — one forward pass for all rows: each row's last token ``(B, 1)``, the attention mask
   ``(B, T + 1)`` with zeros over every row's padding, its own position ids, the shared cache;
3. **sample** — per row, with its own temperature, top_p and seeded ``torch.Generator``
   (:mod:`~gencommons.backends.sampling`), then detokenize incrementally and check stop strings
   (:mod:`~gencommons.backends.decoding`), and hand the new text to the job's ``put`` callback (a queue of the
   thread or event loop waiting for it);
4. **retire** — rows that hit eos, a stop string, ``max_tokens`` or the context end, or whose client went
   away, leave the batch (their cache rows are dropped, and padding columns no row needs any more are cut).

So a new request waits at most one decode step before its prefill, finished ones free their row at once,
and every step costs about one forward pass whether it serves 1 row or 32: throughput grows with
concurrency until the machine is saturated. A row's text depends only on its prompt, parameters and seed,
never on its batch mates, up to float rounding: batched matrix products may round differently from a
single row's, which can flip a sampled token in rare near-ties.
"""

from __future__ import annotations

import inspect
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from gencommons.backends.decoding import IncrementalDecoder, StopMatcher
from gencommons.backends.interface import FinishReason, Generation, GenerationParams, Usage
from gencommons.backends.sampling import sample_next_tokens

log = logging.getLogger(__name__)

# what a job's ``put`` receives: ("text", str), ("done", Generation) or ("error", Exception)
Event = tuple[str, Any]


@dataclass(eq=False)
class Job:
    """One request inside the engine. ``max_tokens`` is already resolved against the context."""

    prompt_ids: list[int]
    params: GenerationParams
    max_tokens: int
    put: Callable[[Event], None]
    decoder: IncrementalDecoder
    generator: torch.Generator
    stops: StopMatcher = field(init=False)
    generated: list[int] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    cancelled: bool = False
    done: bool = False
    position: int = 0  # position id of the token the next decode step feeds in

    def __post_init__(self) -> None:
        self.stops = StopMatcher(self.params.stop)
        self.position = len(self.prompt_ids)

    def emit(self, text: str) -> None:
        if text:
            self.text.append(text)
            self.put(("text", text))

    def finish(self, reason: FinishReason, *, flush: bool = True) -> None:
        """End the job; ``flush`` emits what was held back (unless a stop string ended it)."""
        if flush:
            tail, stopped = self.stops.push(self.decoder.flush())
            self.emit(tail if stopped else tail + self.stops.flush())
        self.done = True
        usage = Usage(prompt_tokens=len(self.prompt_ids), completion_tokens=len(self.generated))
        self.put(("done", Generation(text="".join(self.text), finish_reason=reason, usage=usage)))


@dataclass
class _Batch:
    """The running rows and their shared state: KV cache per layer ``(B, H, T, D)``, mask ``(B, T)``."""

    jobs: list[Job]
    cache: Any  # transformers DynamicCache
    mask: torch.Tensor


class BatchEngine:
    """The worker thread that batches every request for one model. ``submit`` is thread-safe."""

    def __init__(
        self,
        model: Any,
        *,
        stop_token_ids: set[int],
        max_batch_size: int = 32,
        pad_token_id: int = 0,
    ):
        self.model = model
        self.device = next(model.parameters()).device
        self.stop_token_ids = stop_token_ids
        self.max_batch_size = max_batch_size
        self.pad_token_id = pad_token_id
        self.waiting: queue.Queue[Job | None] = queue.Queue()
        self.batch: _Batch | None = None
        params = inspect.signature(model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        self._closed = False
        self.thread = threading.Thread(target=self._run, name="gencommons-batch-engine", daemon=True)
        self.thread.start()

    def submit(self, job: Job) -> None:
        if self._closed:
            raise RuntimeError("the batch engine is closed")
        self.waiting.put(job)

    def close(self) -> None:
        self._closed = True
        self.waiting.put(None)
        self.thread.join(timeout=10)

    # --- the worker -------------------------------------------------------------------------------

    def _run(self) -> None:
        with torch.inference_mode():
            while not self._closed:
                new = self._take_waiting()
                try:
                    if new:
                        self._admit(new)
                    if self.batch is not None:
                        self._decode_step()
                except Exception as e:  # a failed forward pass fails its requests, not the server
                    log.exception("generation failed")
                    for job in [*new, *(self.batch.jobs if self.batch else [])]:
                        if not job.done:
                            job.done = True
                            job.put(("error", e))
                    self.batch = None

    def _take_waiting(self) -> list[Job]:
        running = len(self.batch.jobs) if self.batch else 0
        new: list[Job] = []
        if running == 0:  # idle: sleep until a request comes
            first = self.waiting.get()
            if first is None:
                return []
            new.append(first)
        while running + len(new) < self.max_batch_size:
            try:
                job = self.waiting.get_nowait()
            except queue.Empty:
                break
            if job is None:
                break
            new.append(job)
        return [j for j in new if not j.cancelled]

    def _admit(self, jobs: list[Job]) -> None:
        """Prefill the new prompts together, sample their first tokens, merge them into the batch."""
        width = max(len(j.prompt_ids) for j in jobs)
        ids = torch.full((len(jobs), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(jobs), width), dtype=torch.long)
        for i, j in enumerate(jobs):  # left padding: every prompt ends at the last column
            ids[i, width - len(j.prompt_ids) :] = torch.tensor(j.prompt_ids)
            mask[i, width - len(j.prompt_ids) :] = 1
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
        logits, cache = self._forward(
            ids.to(self.device), mask.to(self.device), positions.to(self.device), None
        )
        self._sample_and_emit(jobs, logits)
        incoming = _Batch(jobs=jobs, cache=cache, mask=mask.to(self.device))
        self.batch = incoming if self.batch is None else _merge(self.batch, incoming)
        self._retire()

    def _decode_step(self) -> None:
        b = self.batch
        assert b is not None
        last = torch.tensor([[j.generated[-1]] for j in b.jobs], device=self.device)
        positions = torch.tensor([[j.position] for j in b.jobs], device=self.device)
        b.mask = torch.cat([b.mask, torch.ones_like(b.mask[:, :1])], dim=1)  # (B, T + 1)
        logits, b.cache = self._forward(last, b.mask, positions, b.cache)
        self._sample_and_emit(b.jobs, logits)
        self._retire()

    def _forward(
        self, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, cache: Any
    ) -> tuple[torch.Tensor, Any]:
        """Last-position logits ``(B, V)`` and the grown cache (transformers 5 calls it ``cache``, 4
        ``past_key_values``)."""
        name = self._cache_arg
        out = self.model(
            input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, **{name: cache}
        )
        return out.logits[:, -1, :], getattr(out, name)

    def _sample_and_emit(self, jobs: list[Job], logits: torch.Tensor) -> None:
        tokens = sample_next_tokens(
            logits,
            temperatures=[j.params.temperature for j in jobs],
            top_ps=[j.params.top_p for j in jobs],
            generators=[j.generator for j in jobs],
        )
        for job, token in zip(jobs, tokens, strict=True):
            if job.done:
                continue
            job.generated.append(token)
            job.position += 1 if len(job.generated) > 1 else 0
            if token in self.stop_token_ids and not job.params.ignore_eos:
                job.finish("stop")
                continue
            text, stopped = job.stops.push(job.decoder.push(token))
            job.emit(text)
            if stopped:
                job.finish("stop", flush=False)
            elif len(job.generated) >= job.max_tokens:
                job.finish("length")

    def _retire(self) -> None:
        b = self.batch
        assert b is not None
        keep = [i for i, j in enumerate(b.jobs) if not (j.done or j.cancelled)]
        for j in b.jobs:
            j.done = j.done or j.cancelled
        if len(keep) == len(b.jobs):
            return
        if not keep:
            self.batch = None
            return
        idx = torch.tensor(keep, device=self.device)
        mask = b.mask[idx]
        first = int(mask.any(dim=0).nonzero()[0].item())  # columns before it are padding in every row
        layers = [(k[idx, :, first:], v[idx, :, first:]) for k, v in _kv(b.cache)]
        self.batch = _Batch(jobs=[b.jobs[i] for i in keep], cache=_cache(layers), mask=mask[:, first:])


def _kv(cache: Any) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(layer.keys, layer.values) for layer in cache.layers]


def _cache(layers: list[tuple[torch.Tensor, torch.Tensor]]) -> Any:
    from transformers import DynamicCache

    return DynamicCache(ddp_cache_data=layers)


def _left_pad(t: torch.Tensor, width: int, dim: int) -> torch.Tensor:
    missing = width - t.shape[dim]
    if missing == 0:
        return t
    shape = list(t.shape)
    shape[dim] = missing
    return torch.cat([t.new_zeros(shape), t], dim=dim)


def _merge(a: _Batch, b: _Batch) -> _Batch:
    """Stack two batches: left-pad both caches and masks to the longer length, concatenate rows."""
    width = max(a.mask.shape[1], b.mask.shape[1])
    layers = [
        (
            torch.cat([_left_pad(ka, width, 2), _left_pad(kb, width, 2)]),
            torch.cat([_left_pad(va, width, 2), _left_pad(vb, width, 2)]),
        )
        for (ka, va), (kb, vb) in zip(_kv(a.cache), _kv(b.cache), strict=True)
    ]
    mask = torch.cat([_left_pad(a.mask, width, 1), _left_pad(b.mask, width, 1)])
    return _Batch(jobs=a.jobs + b.jobs, cache=_cache(layers), mask=mask)
