"""From sampled token ids to streamed text: incremental detokenization and stop strings.

:class:`IncrementalDecoder` turns ids into text one id at a time without splitting a multi-byte UTF-8
character across chunks (a byte-level BPE token may hold half of "é"); :class:`StopMatcher` cuts the text
before the first stop string and holds back a tail that could still become one, so a stop string never
leaks into a stream. Both are plain Python, used per row by the batching engine.
"""

from __future__ import annotations

from typing import Any


class IncrementalDecoder:
    """Decode a growing list of ids into text chunks (the prefix-offset method of TGI and vLLM).

    It decodes a short window ``ids[prefix:]`` and emits only what the window adds after
    ``ids[prefix:read]``; while the window ends in an incomplete character (U+FFFD) it waits.

    Example:
        >>> class Bytes:  # a byte-per-token "tokenizer"
        ...     def decode(self, ids, skip_special_tokens=True):
        ...         return bytes(ids).decode("utf-8", "replace")
        >>> d = IncrementalDecoder(Bytes())
        >>> [d.push(b) for b in "é!".encode()]
        ['', 'é', '!']
    """

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.prefix = 0  # ids[prefix:read] is the context already emitted, re-decoded for spacing
        self.read = 0

    def _decode(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def push(self, token: int) -> str:
        self.ids.append(token)
        before = self._decode(self.ids[self.prefix : self.read])
        text = self._decode(self.ids[self.prefix :])
        if len(text) > len(before) and not text.endswith("\ufffd"):
            self.prefix, self.read = self.read, len(self.ids)
            return text[len(before) :]
        return ""

    def flush(self) -> str:
        """What is still held back (an incomplete character at the very end, as U+FFFD)."""
        before = self._decode(self.ids[self.prefix : self.read])
        text = self._decode(self.ids[self.prefix :])
        self.prefix = self.read = len(self.ids)
        return text[len(before) :]


class StopMatcher:
    """Feed text pieces; get back what may be emitted, and whether a stop string was reached.

    Example:
        >>> m = StopMatcher(["\\n\\n"])
        >>> m.push("a\\n"), m.push("\\nb")
        (('a', False), ('', True))
    """

    def __init__(self, stops: tuple[str, ...] | list[str]):
        self.stops = [s for s in stops if s]
        self.longest = max((len(s) for s in self.stops), default=0)
        self.text = ""
        self.sent = 0  # chars of self.text already emitted

    def push(self, piece: str) -> tuple[str, bool]:
        if not self.stops:
            return piece, False
        start = max(0, len(self.text) - self.longest + 1)
        self.text += piece
        hits = [i for i in (self.text.find(s, start) for s in self.stops) if i >= 0]
        if hits:
            out, self.sent = self.text[self.sent : min(hits)], len(self.text)
            return out, True
        # hold back the longest tail that is the beginning of some stop string
        hold = next(
            (k for k in range(min(self.longest - 1, len(self.text)), 0, -1) if self._starts_a_stop(k)), 0
        )
        end = max(self.sent, len(self.text) - hold)
        out, self.sent = self.text[self.sent : end], end
        return out, False

    def _starts_a_stop(self, k: int) -> bool:
        tail = self.text[-k:]
        return any(s.startswith(tail) for s in self.stops)

    def flush(self) -> str:
        out, self.sent = self.text[self.sent :], len(self.text)
        return out
