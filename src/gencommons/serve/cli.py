"""``gencommons serve MODEL``: the OpenAI-compatible server over a model folder (or another endpoint)."""

from __future__ import annotations

import typer

from gencommons.errors import require


def serve(
    model: str = typer.Argument(
        ..., help="A local Hugging Face model folder (or the http(s):// URL of an OpenAI-compatible server)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    max_batch_size: int = typer.Option(
        32, "--max-batch-size", min=1, help="Most requests generated together in one batch."
    ),
    model_name: str | None = typer.Option(
        None, "--model-name", help="The name clients ask for (default: the folder's name)."
    ),
    device: str | None = typer.Option(
        None, "--device", help="cuda, cpu, ... (default: cuda when available)."
    ),
    threads: int | None = typer.Option(
        None, "--threads", min=1, help="CPU threads for the model (default: all cores but one)."
    ),
) -> None:
    """Serve MODEL over the OpenAI API (/v1/models, /v1/completions, /v1/chat/completions).

    Concurrent requests are batched: one worker decodes every running request in the same forward pass,
    and new requests join at the next step. Any OpenAI client works:
    OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="unused").
    """
    for module in ("fastapi", "uvicorn"):
        require(module, extra="serve")
    import uvicorn

    from gencommons.backends.factory import backend_from_spec
    from gencommons.serve.app import create_app

    options: dict[str, object] = {"model": model_name}
    if not model.startswith(("http://", "https://")):
        _set_threads(threads)
        options |= {"max_batch_size": max_batch_size, "device": device}
    backend = backend_from_spec(model, **options)
    typer.echo(f"Serving '{backend.model}' at http://{host}:{port}/v1 (batches of up to {max_batch_size})")
    try:
        uvicorn.run(create_app(backend), host=host, port=port, log_level="info")
    finally:
        backend.close()


def _set_threads(threads: int | None) -> None:
    """Leave one core to the HTTP event loop: measured on 2 busy cores, torch's default of one thread per
    core made every decode step wait for the core the server itself needs (bench/README.md, serving)."""
    import os

    import torch

    torch.set_num_threads(threads or max(1, (os.cpu_count() or 2) - 1))
