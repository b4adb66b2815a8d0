"""One interface to a model: a local Hugging Face folder or any OpenAI-compatible endpoint.

```
interface.py      Backend protocol, GenerationParams, Generation, TextStream (no model code)
factory.py        the backend registry and backend_from_spec(spec, **options)
local.py          LocalBackend: a HF folder in this process, every caller batched by batching.py
batching.py       the continuous-batching worker; sampling.py and decoding.py serve it
remote.py         RemoteBackend: an OpenAI-compatible endpoint over httpx, retries, clear errors
chat_template.py  DEFAULT_CHAT_TEMPLATE (ChatML style) for tokenizers without one
```

Example:
    >>> from gencommons.backends import GenerationParams, backend_from_spec
    >>> model = backend_from_spec("http://127.0.0.1:8000")                        # doctest: +SKIP
    >>> model.generate([{"role": "user", "content": "Hi"}], GenerationParams(max_tokens=20)).text  # doctest: +SKIP
"""

from gencommons.backends.factory import backend_from_spec, backends
from gencommons.backends.interface import Backend, Generation, GenerationParams, TextStream, Usage

__all__ = [
    "Backend",
    "Generation",
    "GenerationParams",
    "TextStream",
    "Usage",
    "backend_from_spec",
    "backends",
]
