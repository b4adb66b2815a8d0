"""The remote backend: any OpenAI-compatible endpoint (vLLM, llama.cpp server, Ollama, TGI, gencommons
``serve``) over httpx.

A string prompt goes to ``POST /v1/completions``, chat messages to ``POST /v1/chat/completions``;
``stream`` reads the server-sent events. Connection errors, HTTP 5xx and 429 are retried with exponential
backoff (``backoff * 2**attempt`` seconds, or the server's ``Retry-After``); a stream is retried only
before its first byte. Everything else that goes wrong — the endpoint down after the retries, an HTTP
4xx, a body that is not JSON, JSON without the fields the API promises, an event stream cut short — is a
:class:`~gencommons.errors.BackendError` that names the URL.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from gencommons.backends.interface import (
    DEFAULT_PARAMS,
    BackendBase,
    FinishReason,
    Generation,
    GenerationParams,
    Prompt,
    TextStream,
    Usage,
)
from gencommons.errors import BackendError

RETRY_STATUSES = {429, 500, 502, 503, 504}
RETRY_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.PoolTimeout)


class RemoteBackend(BackendBase):
    """An OpenAI-compatible endpoint.

    Args:
        url: ``http://host:port`` (``/v1`` is added) or the full API base (``http://host/v1``).
        model: the model name to ask for (default: the first one ``GET /v1/models`` lists).
        api_key: sent as a bearer token (default: ``$GENCOMMONS_API_KEY``, then ``$OPENAI_API_KEY``).
        timeout: seconds to wait for each read (a streamed token, or a whole non-streamed answer).
        retries: attempts after the first one, on connection errors, 5xx and 429.
        backoff: seconds before the first retry; doubled each time.

    Example:
        >>> b = RemoteBackend("http://127.0.0.1:8000", model="tiny")       # doctest: +SKIP
        >>> for chunk in b.stream("Once upon a time", GenerationParams(max_tokens=20)):  # doctest: +SKIP
        ...     print(chunk, end="")
    """

    def __init__(
        self,
        url: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 5.0,
        retries: int = 3,
        backoff: float = 0.5,
    ):
        parts = urlsplit(url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise BackendError(f"{url!r} is not an http(s):// URL.", url=url)
        self.base = url.rstrip("/") + ("/v1" if parts.path in ("", "/") else "")
        key = api_key or os.environ.get("GENCOMMONS_API_KEY") or os.environ.get("OPENAI_API_KEY")
        self.client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            headers={"Authorization": f"Bearer {key}"} if key else {},
        )
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self._model = model

    @property
    def model(self) -> str:  # type: ignore[override]
        if self._model is None:
            url = f"{self.base}/models"
            data = _json(self._send("GET", url, None, stream=False), url)
            self._model = str(_field(data, url, "data", 0, "id"))
        return self._model

    def close(self) -> None:
        self.client.close()

    def generate(self, prompt: Prompt, params: GenerationParams = DEFAULT_PARAMS) -> Generation:
        url, body = self._request(prompt, params, stream=False)
        resp = self._send("POST", url, body, stream=False)
        return _answer(_json(resp, url), url, chat=not isinstance(prompt, str))

    def stream(self, prompt: Prompt, params: GenerationParams = DEFAULT_PARAMS) -> TextStream:
        url, body = self._request(prompt, params, stream=True)
        final: dict[str, Any] = {"finish_reason": None, "usage": Usage()}

        def chunks() -> Iterator[str]:
            resp = self._send("POST", url, body, stream=True)
            try:
                if not resp.headers.get("content-type", "").startswith("text/event-stream"):
                    # a server that ignored stream=true answers JSON
                    whole = _answer(_json(resp, url), url, chat=not isinstance(prompt, str))
                    final.update(finish_reason=whole.finish_reason, usage=whole.usage)
                    yield whole.text
                    return
                yield from _read_events(resp, url, final, chat=not isinstance(prompt, str))
            except httpx.TimeoutException as e:
                raise BackendError(f"{url} stopped sending for {self.timeout:g} s: {e}", url=url) from e
            except httpx.TransportError as e:
                raise BackendError(f"The connection to {url} broke mid-stream: {e}", url=url) from e
            finally:
                resp.close()

        def finish(text: str) -> Generation:
            return Generation(text=text, finish_reason=_finish(final["finish_reason"]), usage=final["usage"])

        return TextStream(chunks(), finish)

    def _request(
        self, prompt: Prompt, params: GenerationParams, *, stream: bool
    ) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "model": self.model,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "stream": stream,
        }
        if params.max_tokens is not None:
            body["max_tokens"] = params.max_tokens
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        if params.ignore_eos:
            body["ignore_eos"] = True
        if stream:
            body["stream_options"] = {"include_usage": True}
        if isinstance(prompt, str):
            body["prompt"] = prompt
            return f"{self.base}/completions", body
        body["messages"] = [dict(m) for m in prompt]
        return f"{self.base}/chat/completions", body

    def _send(self, method: str, url: str, body: dict[str, Any] | None, *, stream: bool) -> httpx.Response:
        """The response of the first attempt that is neither a connection error, a 5xx nor a 429."""
        error: BackendError | None = None
        pause = 0.0
        for attempt in range(self.retries + 1):
            time.sleep(pause)
            pause = self.backoff * 2**attempt  # before the next attempt, if this one fails
            try:
                resp = self.client.send(self.client.build_request(method, url, json=body), stream=stream)
            except RETRY_ERRORS as e:
                error = BackendError(
                    f"Cannot reach {url} ({type(e).__name__}: {e}). Is the server running, and is the URL "
                    "right?",
                    url=url,
                )
                continue
            except httpx.TimeoutException as e:
                raise BackendError(f"{url} did not answer within {self.timeout:g} s: {e}", url=url) from e
            if resp.status_code < 400:
                return resp
            resp.read()
            resp.close()
            message = _error_message(resp)
            if resp.status_code not in RETRY_STATUSES:
                raise BackendError(
                    f"{url} refused the request (HTTP {resp.status_code}): {message}",
                    url=url,
                    status=resp.status_code,
                )
            error = BackendError(
                f"{url} answered HTTP {resp.status_code}: {message}", url=url, status=resp.status_code
            )
            pause = max(pause, min(_retry_after(resp), 30.0))
        assert error is not None
        raise BackendError(
            f"{error} (gave up after {self.retries + 1} attempts)", url=url, status=error.status
        )


def _read_events(resp: httpx.Response, url: str, final: dict[str, Any], *, chat: bool) -> Iterator[str]:
    """Text deltas of an OpenAI event stream; fills ``final`` with finish_reason and usage."""
    for line in resp.iter_lines():
        if not line.startswith("data:"):
            continue  # blank separators, ": keep-alive" comments, "event:" lines
        payload = line[len("data:") :].strip()
        if payload == "[DONE]":
            return
        try:
            event = json.loads(payload)
        except json.JSONDecodeError:
            raise BackendError(f"{url} sent a broken event (not JSON): {payload[:200]!r}", url=url) from None
        if not isinstance(event, dict):
            raise BackendError(f"{url} sent an event that is not a JSON object: {payload[:200]!r}", url=url)
        if "error" in event:
            raise BackendError(f"{url} failed mid-stream: {_error_text(event)}", url=url)
        if event.get("usage"):
            final["usage"] = _usage(event)
        for choice in _field(event, url, "choices")[:1]:
            final["finish_reason"] = choice.get("finish_reason") or final["finish_reason"]
            text = (choice.get("delta") or {}).get("content") if chat else choice.get("text")
            if text:
                yield str(text)
    if final["finish_reason"] is None:
        raise BackendError(f"{url} ended the event stream before the answer was finished.", url=url)


def _answer(data: dict[str, Any], url: str, *, chat: bool) -> Generation:
    """The Generation of a non-streamed completion or chat completion."""
    choice = _field(data, url, "choices", 0)
    text = _field(data, url, "choices", 0, *(("message", "content") if chat else ("text",)))
    return Generation(
        text=str(text or ""), finish_reason=_finish(choice.get("finish_reason")), usage=_usage(data)
    )


def _json(resp: httpx.Response, url: str) -> dict[str, Any]:
    body = resp.read()
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BackendError(
            f"{url} answered with something that is not JSON (HTTP {resp.status_code}): {body[:200]!r}",
            url=url,
        ) from None
    if not isinstance(data, dict):
        raise BackendError(f"{url} answered JSON that is not an object: {body[:200]!r}", url=url)
    return data


def _field(data: Any, url: str, *path: str | int) -> Any:
    """``data[path[0]][path[1]]...``, or a BackendError naming the missing field."""
    for i, key in enumerate(path):
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            where = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path[: i + 1]).lstrip(".")
            raise BackendError(
                f"{url} answered JSON without {where}: not an OpenAI-compatible answer.", url=url
            ) from None
    return data


def _usage(data: dict[str, Any]) -> Usage:
    u = data.get("usage") or {}
    return Usage(
        prompt_tokens=int(u.get("prompt_tokens") or 0), completion_tokens=int(u.get("completion_tokens") or 0)
    )


def _finish(reason: Any) -> FinishReason:
    return "length" if reason == "length" else "stop"


def _error_text(data: dict[str, Any]) -> str:
    err = data.get("error")
    if isinstance(err, dict):
        return str(err.get("message") or err)
    return str(err or data.get("detail") or data)


def _error_message(resp: httpx.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return resp.text[:200] or "(empty body)"
    return _error_text(data) if isinstance(data, dict) else str(data)[:200]


def _retry_after(resp: httpx.Response) -> float:
    try:
        return float(resp.headers.get("retry-after", 0))
    except ValueError:
        return 0.0
