"""gencommons: an open toolkit for building generative AI in the open."""

import os as _os

__version__ = "0.1.0"

# Arrow's allocator (mimalloc, bundled in pyarrow) keeps freed pages for `purge_delay` ms before it
# hands them back to the OS: 1000 ms in pyarrow's build (`MIMALLOC_VERBOSE=1` prints it), where
# mimalloc 2.x's own default was 10. A data task frees and reallocates a batch's buffers every few
# milliseconds, so a second's worth of freed batches stays resident: on the MinHash benchmark (131,520
# documents, one worker) the run peaks at 279 MB with 1000 ms and 225 MB with 10 ms, for 0-4 % more CPU
# time (docs/architecture.md). mimalloc reads the variable once, when pyarrow is loaded: this is the
# one place that runs before any gencommons module imports pyarrow, and the engine's worker processes
# inherit it. A value the user set is kept.
_os.environ.setdefault("MIMALLOC_PURGE_DELAY", "10")
