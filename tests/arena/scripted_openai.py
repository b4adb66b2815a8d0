"""A small scripted server speaking the OpenAI chat format, for the arena's tests and load benchmark.

A real HTTP server (``ThreadingHTTPServer`` in a thread of this process, or its own process with
``python tests/arena/scripted_openai.py --port N``). What it answers depends on the first path segment,
so one server offers several misbehaving "models" (``server.endpoint("hostile")`` is
``http://127.0.0.1:PORT/hostile/v1``):

    normal    streams "Answer of <model> to: <last prompt, first 40 chars>." in a few chunks
    hostile   streams HOSTILE: script tags, an onerror image and HTML that would break the page
    slow      sends nothing for ``slow_s`` seconds, then answers normally
    garbage   HTTP 200 with a body that is not JSON (nor an event stream)
    <name>    whatever ``server.routes[name]`` says (one of the above): a test switches a route at run time

``stop()`` then ``start()`` brings the same server back on the same port: between the two the endpoint
is down (connection refused). ``requests`` records each chat request's path and JSON body.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOSTILE = (
    "<script>alert(1)</script><img src=x onerror=alert(2)> <b>bold</b></div></article></main>"
    '<h1 id="pwned">pwned</h1><a href="javascript:alert(3)">x</a> "quotes" & \'apostrophes\''
    "\n\nevent: end\ndata: {}\n\n{{ 7*7 }}"  # server-sent-event framing and template syntax too
)
BEHAVIOURS = ("normal", "hostile", "slow", "garbage")


class ScriptedOpenAI:
    """An OpenAI-format chat server with scripted behaviours (see the module docstring).

    Args:
        port: 0 picks a free port (kept across ``stop()`` / ``start()``).
        chunk_delay: seconds between streamed chunks (0: as fast as possible, for the load benchmark).
        slow_s: how long the ``slow`` behaviour waits before answering.
    """

    def __init__(self, *, port: int = 0, chunk_delay: float = 0.01, slow_s: float = 5.0):
        self.port = port
        self.chunk_delay = chunk_delay
        self.slow_s = slow_s
        self.routes: dict[str, str] = {}
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def endpoint(self, behaviour: str) -> str:
        """The OpenAI API base of one behaviour (or of a route named in ``routes``)."""
        return f"{self.url}/{behaviour}/v1"

    def start(self) -> ScriptedOpenAI:
        httpd = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        httpd.daemon_threads = True
        httpd.scripted = self  # type: ignore[attr-defined]
        self.port = int(httpd.server_address[1])
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="scripted-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def behaviour(self, name: str) -> str:
        b = self.routes.get(name, name)
        return b if b in BEHAVIOURS else "normal"

    def answer(self, model: str, messages: list[dict[str, Any]], behaviour: str) -> list[str]:
        """The chunks of one answer."""
        if behaviour == "hostile":
            return [HOSTILE[:20], HOSTILE[20:60], HOSTILE[60:]]
        last = str(messages[-1].get("content", "")) if messages else ""
        turn = sum(1 for m in messages if m.get("role") == "user")
        return [f"Answer of {model} ", f"(turn {turn}) ", f"to: {last[:40]}."]


class _Handler(BaseHTTPRequestHandler):
    server_version = "scripted-openai"

    @property
    def scripted(self) -> ScriptedOpenAI:
        return self.server.scripted  # type: ignore[attr-defined,no-any-return]

    def do_GET(self) -> None:
        parts = self.path.strip("/").split("/")
        if len(parts) == 3 and parts[1:] == ["v1", "models"]:
            self._send_json({"object": "list", "data": [{"id": f"scripted-{parts[0]}", "object": "model"}]})
        else:
            self._send_json({"error": {"message": f"no route {self.path}"}}, status=404)

    def do_POST(self) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout)
            self._chat()

    def _chat(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        parts = self.path.strip("/").split("/")
        if len(parts) != 4 or parts[1:] != ["v1", "chat", "completions"]:
            self._send_json({"error": {"message": f"no route {self.path}"}}, status=404)
            return
        scripted = self.scripted
        scripted.requests.append((self.path, body))
        behaviour = scripted.behaviour(parts[0])
        if behaviour == "slow":
            time.sleep(scripted.slow_s)
        if behaviour == "garbage":
            raw = b"<html><body>502 Bad Gateway - this is not JSON {{{</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
            return
        model = str(body.get("model") or "scripted")
        chunks = scripted.answer(model, body.get("messages") or [], behaviour)
        if not body.get("stream"):
            text = "".join(chunks)
            self._send_json(
                {
                    "object": "chat.completion",
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": len(chunks)},
                }
            )
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        for i, chunk in enumerate(chunks):
            if i and scripted.chunk_delay:
                time.sleep(scripted.chunk_delay)
            self._event({"choices": [{"index": 0, "delta": {"content": chunk}, "finish_reason": None}]})
        self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _event(self, data: dict[str, Any]) -> None:
        self.wfile.write(b"data: " + json.dumps(data).encode() + b"\n\n")
        self.wfile.flush()

    def _send_json(self, data: dict[str, Any], status: int = 200) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description="Serve the scripted OpenAI-format test endpoints.")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--chunk-delay", type=float, default=0.0)
    args = ap.parse_args()
    server = ScriptedOpenAI(port=args.port, chunk_delay=args.chunk_delay).start()
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
