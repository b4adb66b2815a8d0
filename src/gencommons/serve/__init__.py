"""The OpenAI-compatible HTTP server over a backend (``gencommons serve``)."""
