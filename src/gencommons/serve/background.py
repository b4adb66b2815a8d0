"""Run the server in a background thread of this process: for tests, notebooks and the arena's demos.

Example:
    >>> with serve_in_background(backend) as url:           # doctest: +SKIP
    ...     OpenAI(base_url=f"{url}/v1", api_key="x").models.list()
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from gencommons.backends.interface import Backend
from gencommons.serve.app import create_app


@contextmanager
def serve_in_background(backend: Backend, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``backend`` on ``host:port`` (0: a free port) until the block ends; yield the base URL."""
    import uvicorn

    config = uvicorn.Config(create_app(backend), host=host, port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="gencommons-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start on {host}:{port}")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
