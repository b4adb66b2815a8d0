"""The remote backend against the real server (the tiny model) and against endpoints that misbehave.

A real endpoint cannot be made to answer garbage or a 503 on demand, so those cases use a tiny scripted
HTTP server on loopback; everything else goes through ``gencommons serve``'s app.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gencommons.backends import GenerationParams, backend_from_spec
from gencommons.backends.local import LocalBackend
from gencommons.backends.remote import RemoteBackend
from gencommons.errors import BackendError

CHAT = [{"role": "user", "content": "Bonjour, ça va ?"}]
OK_COMPLETION = {"choices": [{"text": "fine", "finish_reason": "stop"}], "usage": {"completion_tokens": 1}}


def test_same_answers_as_the_local_backend(tiny_server: tuple[LocalBackend, str]) -> None:
    local, url = tiny_server
    remote = backend_from_spec(url)
    assert isinstance(remote, RemoteBackend)
    assert remote.model == local.model  # discovered through GET /v1/models
    for prompt in ("Once upon a time", CHAT):
        params = GenerationParams(max_tokens=15, seed=11, temperature=0.7, stop=("zz",))
        here = local.generate(prompt, params)
        there = remote.generate(prompt, params)
        assert there == here
        stream = remote.stream(prompt, params)
        assert "".join(stream) == here.text
        assert stream.result == here  # usage arrives through stream_options.include_usage
    remote.close()


def test_remote_refusal_carries_the_servers_message(tiny_server: tuple[LocalBackend, str]) -> None:
    _, url = tiny_server
    with pytest.raises(BackendError, match=r"HTTP 404.*does not exist") as e:
        RemoteBackend(url, model="nope").generate("hi")
    assert e.value.status == 404
    with pytest.raises(BackendError, match=r"HTTP 400.*max_tokens"):
        RemoteBackend(url).generate("hi", GenerationParams(max_tokens=-1))


def test_endpoint_down_names_the_url_after_retries() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    b = RemoteBackend(f"http://127.0.0.1:{port}", model="m", retries=2, backoff=0.01)
    with pytest.raises(
        BackendError, match=rf"Cannot reach http://127.0.0.1:{port}/v1/completions.*3 attempts"
    ):
        b.generate("hi")
    with pytest.raises(BackendError, match="Cannot reach"):
        list(b.stream(CHAT))


class Scripted(ThreadingHTTPServer):
    """Answers each request with the next (status, content type, body) of its script."""

    def __init__(self, script: list[tuple[int, str, bytes]]):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = script
        self.requests: list[dict] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Scripted

    def do_POST(self) -> None:
        self.server.requests.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        status, ctype, body = (
            self.server.script.pop(0) if len(self.server.script) > 1 else self.server.script[0]
        )
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if status in (429, 503):
            self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[type[Scripted]]:
    servers: list[Scripted] = []

    def start(script: list[tuple[int, str, bytes]]) -> Scripted:
        srv = Scripted(script)
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        servers.append(srv)
        return srv

    yield start  # type: ignore[misc]
    for srv in servers:
        srv.shutdown()
        srv.server_close()


JSON = "application/json"
SSE = "text/event-stream"


def test_503_then_200_is_retried(scripted) -> None:  # type: ignore[no-untyped-def]
    srv = scripted(
        [
            (503, JSON, b'{"error": {"message": "loading"}}'),
            (429, JSON, b"{}"),
            (200, JSON, json.dumps(OK_COMPLETION).encode()),
        ]
    )
    b = RemoteBackend(srv.url, model="m", backoff=0.01)
    g = b.generate("hi", GenerationParams(max_tokens=3, stop=("\n",), seed=1))
    assert g.text == "fine"
    assert len(srv.requests) == 3
    assert srv.requests[0] | {"stream": False} == srv.requests[0]
    assert srv.requests[0]["stop"] == ["\n"]
    assert srv.requests[0]["max_tokens"] == 3


def test_persistent_5xx_gives_up_with_the_servers_message(scripted) -> None:  # type: ignore[no-untyped-def]
    srv = scripted([(503, JSON, b'{"error": {"message": "model is loading"}}')])
    b = RemoteBackend(srv.url, model="m", retries=1, backoff=0.01)
    with pytest.raises(BackendError, match=r"HTTP 503: model is loading \(gave up after 2 attempts\)"):
        b.generate("hi")


@pytest.mark.parametrize(
    ("ctype", "body", "message"),
    [
        (JSON, b"<html>proxy error</html>", "not JSON"),
        (JSON, b'{"id": "x"}', "without choices"),
        (JSON, b'{"choices": [{"message": {}}]}', r"without choices\[0\].message.content"),
        (JSON, b"[1, 2]", "not an object"),
    ],
)
def test_garbage_answers(scripted, ctype: str, body: bytes, message: str) -> None:  # type: ignore[no-untyped-def]
    srv = scripted([(200, ctype, body)])
    with pytest.raises(BackendError, match=message) as e:
        RemoteBackend(srv.url, model="m").generate(CHAT)
    assert srv.url in str(e.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'data: {"choices": [{"delta": {"content": "a"}}]}\n\ndata: {broken\n\n', "broken event"),
        (b'data: {"choices": [{"delta": {"content": "a"}}]}\n\n', "ended the event stream before"),
        (b'data: {"error": {"message": "out of memory"}}\n\n', "failed mid-stream: out of memory"),
        (b'data: {"object": "x"}\n\n', "without choices"),
    ],
)
def test_broken_event_streams(scripted, body: bytes, message: str) -> None:  # type: ignore[no-untyped-def]
    srv = scripted([(200, SSE, body)])
    with pytest.raises(BackendError, match=message):
        list(RemoteBackend(srv.url, model="m").stream(CHAT))


def test_a_server_that_ignores_stream_true(scripted) -> None:  # type: ignore[no-untyped-def]
    srv = scripted([(200, JSON, json.dumps(OK_COMPLETION).encode())])
    s = RemoteBackend(srv.url, model="m").stream("hi")
    assert list(s) == ["fine"]
    assert s.result is not None
    assert s.result.usage.completion_tokens == 1


def test_specs() -> None:
    assert isinstance(backend_from_spec("openai:http://127.0.0.1:1/v1", model="m"), RemoteBackend)
    assert RemoteBackend("http://h:1").base == "http://h:1/v1"
    assert RemoteBackend("http://h:1/api/v1/").base == "http://h:1/api/v1"
    with pytest.raises(BackendError, match="not an http"):
        RemoteBackend("ftp://h")
