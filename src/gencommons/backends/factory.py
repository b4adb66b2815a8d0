"""The backend registry and ``backend_from_spec``: the one place a new kind of backend plugs in.

A spec names a model the way a user would type it:

```
backend_from_spec("models/tiny")                        # a folder -> "local" (this process, batched)
backend_from_spec("http://127.0.0.1:8000", model="x")    # a URL    -> "openai" (any OpenAI-compatible server)
backend_from_spec("openai:https://api.example.org/v1")   # "<kind>:<target>" picks a registered kind
```

A third-party package adds a kind with an entry point in the ``gencommons.backends`` group (a function
``(target, **options) -> Backend``), or in-process with ``@backends.register("name")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from gencommons.backends.interface import Backend
from gencommons.errors import BackendError
from gencommons.registry import Registry


class BackendFactory(Protocol):
    def __call__(self, target: str, **options: Any) -> Backend: ...


backends: Registry[BackendFactory] = Registry("backend", package=None, group="gencommons.backends")


@backends.register("local")
def local(target: str, **options: Any) -> Backend:
    """A Hugging Face model folder, run here (options: model, device, max_batch_size)."""
    from gencommons.backends.local import LocalBackend
    from gencommons.errors import require

    for module in ("torch", "transformers"):
        require(module, extra="lm")
    return LocalBackend(target, **options)


@backends.register("openai")
def openai(target: str, **options: Any) -> Backend:
    """An OpenAI-compatible endpoint (options: model, api_key, timeout, retries, backoff)."""
    from gencommons.backends.remote import RemoteBackend

    return RemoteBackend(target, **options)


def backend_from_spec(spec: str, **options: Any) -> Backend:
    """The backend a spec names: a model folder, an ``http(s)://`` URL, or ``<kind>:<target>``.

    ``options`` go to the backend (``model=``, ``api_key=``, ``max_batch_size=``, ...); ``None`` values
    are dropped, so CLI options can be passed through as they are.
    """
    options = {k: v for k, v in options.items() if v is not None}
    if spec.startswith(("http://", "https://")):
        return backends["openai"](spec, **options)
    kind, sep, target = spec.partition(":")
    if sep and kind in backends:
        return backends[kind](target, **options)
    if Path(spec).is_dir():
        return backends["local"](spec, **options)
    raise BackendError(
        f"{spec!r} is neither a model folder, an http(s):// URL, nor '<kind>:<target>' with a known kind "
        f"({', '.join(backends.names())}).",
        url=spec,
    )
