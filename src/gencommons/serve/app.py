"""The FastAPI app: OpenAI's routes over one backend, server-sent events, OpenAI-style errors.

```
GET  /v1/models              the one model this server answers to
POST /v1/completions         prompt -> text            (stream: true -> server-sent events)
POST /v1/chat/completions    messages -> message        (stream: true -> server-sent events)
GET  /health                 {"status": "ok"}
```

Every failure is an OpenAI error body ``{"error": {"message", "type", "param", "code"}}``: malformed
JSON and out-of-range fields are 400, an unknown model or route 404, a backend that failed 502; an
unexpected bug is a 500 whose body says so, its traceback only in the server's log. An error after a
stream has started is sent as one more event, ``data: {"error": ...}``, before the stream ends.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gencommons.backends.interface import AsyncTextStream, Backend, Generation, GenerationParams, Prompt
from gencommons.errors import BackendError, InvalidRequestError
from gencommons.serve.schema import ChatRequest, CompletionRequest, ErrorType, error_body

log = logging.getLogger(__name__)


def create_app(backend: Backend) -> FastAPI:
    """The OpenAI-compatible app serving ``backend`` (under the name ``backend.model``)."""
    app = FastAPI(title="gencommons serve", docs_url=None, redoc_url=None)
    created = int(time.time())
    _install_error_handlers(app)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        card = {"id": backend.model, "object": "model", "created": created, "owned_by": "gencommons"}
        return {"object": "list", "data": [card]}

    @app.post("/v1/completions", response_model=None)
    async def completions(req: CompletionRequest) -> dict[str, Any] | StreamingResponse:
        _check_model(req.model, backend)
        answer = _Answer(kind="text_completion", model=backend.model, include_usage=req.include_usage)
        return await _respond(backend, req.text, req.params(), answer, stream=bool(req.stream))

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(req: ChatRequest) -> dict[str, Any] | StreamingResponse:
        _check_model(req.model, backend)
        answer = _Answer(kind="chat.completion", model=backend.model, include_usage=req.include_usage)
        messages = [m.as_dict() for m in req.messages]
        return await _respond(backend, messages, req.chat_params(), answer, stream=bool(req.stream))

    return app


class _Answer:
    """Builds the response objects of one request: whole, chunk by chunk, usage."""

    def __init__(self, *, kind: str, model: str, include_usage: bool):
        self.chat = kind == "chat.completion"
        self.kind = kind
        self.id = ("chatcmpl-" if self.chat else "cmpl-") + uuid.uuid4().hex
        self.model = model
        self.created = int(time.time())
        self.include_usage = include_usage

    def _envelope(self, kind: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": kind,
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }

    def whole(self, g: Generation) -> dict[str, Any]:
        body: dict[str, Any] = {"index": 0, "finish_reason": g.finish_reason, "logprobs": None}
        if self.chat:
            body["message"] = {"role": "assistant", "content": g.text}
        else:
            body["text"] = g.text
        return self._envelope(self.kind, [body]) | {"usage": _usage(g)}

    def chunk(
        self, text: str | None, finish_reason: str | None = None, *, first: bool = False
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"index": 0, "finish_reason": finish_reason, "logprobs": None}
        if self.chat:
            delta: dict[str, Any] = {"role": "assistant"} if first else {}
            body["delta"] = delta | ({"content": text} if text is not None else {})
            return self._envelope("chat.completion.chunk", [body])
        body["text"] = text or ""
        return self._envelope("text_completion", [body])

    def usage_chunk(self, g: Generation) -> dict[str, Any]:
        kind = "chat.completion.chunk" if self.chat else "text_completion"
        return self._envelope(kind, []) | {"usage": _usage(g)}


def _usage(g: Generation) -> dict[str, int]:
    u = g.usage
    return {
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.total_tokens,
    }


async def _respond(
    backend: Backend, prompt: Prompt, params: GenerationParams, answer: _Answer, *, stream: bool
) -> dict[str, Any] | StreamingResponse:
    if not stream:
        return answer.whole(await backend.agenerate(prompt, params))
    text_stream = backend.astream(prompt, params)  # a bad request raises here, before any byte is sent
    return StreamingResponse(
        _events(text_stream, answer),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(stream: AsyncTextStream, answer: _Answer) -> AsyncIterator[str]:
    """``data: {chunk}`` events, the last one with finish_reason, then usage if asked, then ``[DONE]``."""

    def event(obj: dict[str, Any]) -> str:
        return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"

    try:
        if answer.chat:
            yield event(answer.chunk("", first=True))
        async for text in stream:
            yield event(answer.chunk(text))
        assert stream.result is not None
        yield event(answer.chunk(None, stream.result.finish_reason))
        if answer.include_usage:
            yield event(answer.usage_chunk(stream.result))
    except Exception as e:  # noqa: BLE001 (the status line is sent: the error becomes the last event)
        status, body = _error_response(e)
        log.log(logging.ERROR if status >= 500 else logging.INFO, "stream failed: %s", e)
        yield event(body)
    finally:
        await stream.aclose()  # the client went away or the stream ended: free the batch row
    yield "data: [DONE]\n\n"


def _check_model(name: str, backend: Backend) -> None:
    if name != backend.model:
        raise _NotFound(
            f"The model '{name}' does not exist. This server serves '{backend.model}' (GET /v1/models).",
            param="model",
            code="model_not_found",
        )


class _NotFound(InvalidRequestError):
    pass


def _error_response(e: Exception) -> tuple[int, dict[str, Any]]:
    """The HTTP status and OpenAI error body for an exception."""
    if isinstance(e, _NotFound):
        return 404, error_body(str(e), type="invalid_request_error", param=e.param, code=e.code)
    if isinstance(e, InvalidRequestError):
        return 400, error_body(str(e), param=e.param, code=e.code)
    if isinstance(e, BackendError):
        return 502, error_body(str(e), type="backend_error", code="backend_error")
    return 500, error_body(
        f"The server failed on this request ({type(e).__name__}); its log has the details.",
        type="server_error",
        code="internal_error",
    )


def _install_error_handlers(app: FastAPI) -> None:
    def respond(status: int, body: dict[str, Any]) -> JSONResponse:
        return JSONResponse(body, status_code=status)

    async def invalid(_: Request, e: Exception) -> JSONResponse:
        assert isinstance(e, RequestValidationError)
        return respond(400, _validation_body(e))

    async def http_error(_: Request, e: Exception) -> JSONResponse:
        assert isinstance(e, StarletteHTTPException)
        kind: ErrorType = "not_found_error" if e.status_code == 404 else "invalid_request_error"
        return respond(e.status_code, error_body(str(e.detail), type=kind, code=str(e.status_code)))

    async def known(_: Request, e: Exception) -> JSONResponse:
        return respond(*_error_response(e))

    async def unexpected(_: Request, e: Exception) -> JSONResponse:
        log.exception("request failed", exc_info=e)
        return respond(*_error_response(e))

    handlers: dict[Any, Callable[[Request, Exception], Any]] = {
        RequestValidationError: invalid,
        StarletteHTTPException: http_error,
        InvalidRequestError: known,
        BackendError: known,
        Exception: unexpected,
    }
    for exc, handler in handlers.items():
        app.add_exception_handler(exc, handler)


def _validation_body(e: RequestValidationError) -> dict[str, Any]:
    first = e.errors()[0]
    loc = [str(part) for part in first.get("loc", ()) if part != "body"]
    if first.get("type") == "json_invalid":
        return error_body(
            f"The request body is not valid JSON ({first.get('ctx', {}).get('error', first.get('msg'))}).",
            code="invalid_json",
        )
    param = loc[0] if loc else None
    where = ".".join(loc) or "body"
    msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    return error_body(f"Invalid request: {where}: {msg}.", param=param, code="invalid_value")
