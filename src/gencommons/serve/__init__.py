"""The OpenAI-compatible HTTP server over a backend (``gencommons serve MODEL``).

```
app.py         create_app(backend): the routes, server-sent events, OpenAI-style error bodies
schema.py      the request bodies (pydantic) and error_body()
background.py  serve_in_background(backend): the server in a thread, for tests and notebooks
cli.py         the ``gencommons serve`` command (uvicorn)
```

**How concurrent requests are served.** The HTTP side is asyncio (FastAPI on uvicorn): a request never
holds a thread while it waits. Each request is handed to the backend's ``astream``; for a local model
folder that is :class:`~gencommons.backends.local.LocalBackend`, whose single generation worker
(:mod:`gencommons.backends.batching`) does *continuous batching*:

- all running requests are one left-padded batch with a shared KV cache; every step is one forward pass
  for all of them, sampled per row with the row's own temperature, top_p and seeded ``torch.Generator``;
- waiting requests join at every step boundary (their prompts are prefilled together and their caches
  merged into the batch), up to ``--max-batch-size`` rows;
- a row leaves as soon as it meets eos, a stop string, ``max_tokens`` or the context end, or its client
  disconnects;
- each row's tokens are detokenized incrementally (a multi-byte UTF-8 character is never split) and put on
  its request's asyncio queue, which the route turns into ``data: {chunk}`` events as they come.

A step costs about the same for 1 row as for 32 on small models, so throughput grows with concurrency
(``bench/serving.py`` measures it against a naive server that calls ``model.generate`` per request).
The same seed with the same request gives the same text, whatever else is in the batch (up to float
rounding in rare near-ties).

The server can also front a remote OpenAI-compatible endpoint (``gencommons serve http://...``): requests
are then forwarded one-for-one, with the remote backend's retries.
"""
