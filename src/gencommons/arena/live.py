"""Answers being generated right now: one asyncio task per turn, any number of listeners.

The generation of a turn starts when the prompt is posted, not when a browser listens, so the server
owns the battle's state: a listener that connects late (or reconnects) first gets the text so far, then
the rest as it comes. Each side's final text (or its error) is saved to the database when that side
ends, so a vote never waits on memory only, and a server restart marks unfinished turns as
interrupted (the page then offers to retry them).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class Side:
    parts: list[str] = field(default_factory=list)
    done: bool = False
    error: str | None = None


@dataclass
class LiveTurn:
    sides: dict[str, Side]
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def finished(self) -> bool:
        return all(s.done for s in self.sides.values())


class Live:
    """The registry of turns being generated (in this process)."""

    def __init__(self) -> None:
        self.turns: dict[int, LiveTurn] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    def start(
        self,
        turn_id: int,
        jobs: dict[str, Callable[[], AsyncIterator[str]]],
        save: Callable[[str, str, str, str | None], Any],
    ) -> LiveTurn:
        """Generate each side's answer (``jobs[side]()`` yields text chunks) and ``save(side, text, state,
        error)`` each at its end, in a background task."""
        live = LiveTurn(sides={side: Side() for side in jobs})
        self.turns[turn_id] = live

        async def run_side(side: str, make: Callable[[], AsyncIterator[str]]) -> None:
            s = live.sides[side]
            try:
                async for chunk in make():
                    s.parts.append(chunk)
                    async with live.changed:
                        live.changed.notify_all()
            except Exception as e:  # noqa: BLE001 - any failure of a model becomes a message on the page
                s.error = _describe(e)
                log.warning("turn %s side %s failed: %s", turn_id, side, s.error)
            text = "".join(s.parts)
            try:
                await asyncio.to_thread(save, side, text, "error" if s.error else "done", s.error)
            except Exception:
                log.exception("saving turn %s side %s failed", turn_id, side)
                s.error = s.error or "The answer could not be saved; please retry."
            s.done = True
            async with live.changed:
                live.changed.notify_all()

        async def run() -> None:
            try:
                await asyncio.gather(*(run_side(side, make) for side, make in jobs.items()))
                await asyncio.sleep(30)  # late listeners still find it in memory for a while
            finally:  # (not sleeping here: a cancelled turn at shutdown would hold the server 30 s)
                self.turns.pop(turn_id, None)

        task = asyncio.get_running_loop().create_task(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return live

    async def listen(self, live: LiveTurn) -> AsyncIterator[tuple[str, str, str]]:
        """Yield ``(event, side, data)``: ``("text", side, chunk)``, ``("error", side, message)``,
        ``("done", side, "")``, from the beginning of the turn."""
        sent = {side: 0 for side in live.sides}
        ended: set[str] = set()
        while True:
            async with live.changed:
                while not _has_news(live, sent, ended):
                    await live.changed.wait()
            for side, s in live.sides.items():
                if sent[side] < len(s.parts):
                    chunk = "".join(s.parts[sent[side] :])
                    sent[side] = len(s.parts)
                    yield "text", side, chunk
                if s.done and side not in ended:
                    ended.add(side)
                    if s.error:
                        yield "error", side, s.error
                    yield "done", side, ""
            if len(ended) == len(live.sides):
                return

    async def close(self) -> None:
        for t in list(self.tasks):
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def _has_news(live: LiveTurn, sent: dict[str, int], ended: set[str]) -> bool:
    return any(sent[k] < len(s.parts) or (s.done and k not in ended) for k, s in live.sides.items())


def _describe(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    if isinstance(e, TimeoutError):
        text = "the model took too long to answer"
    return f"The model could not answer: {text[:300]}"
