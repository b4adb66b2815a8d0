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

# Arrow's default pool: jemalloc where pyarrow has it (not on Windows). Measured on the MinHash
# benchmark (one worker, medians of 3 runs alternated, peak RSS as ru_maxrss): 32,880 documents
# 150 MB with mimalloc, 135 with the system allocator, 137 with jemalloc; 131,520 documents 164-167,
# 157-163 and 151 MB; jemalloc took 5-9 % less CPU than mimalloc. mimalloc kept the pages of batches a
# task had freed resident through its later stages (the cluster stage: 141 MB resident for 8 MB
# allocated; jemalloc 127, system 122). Switching pools inside a process does worse (both allocators
# keep their caches: 177-182 MB at 131,520 documents), so it is chosen here, before pyarrow is
# loaded; a process that used pyarrow before importing gencommons keeps its pool. A value the user set
# is kept.
if __import__("sys").platform != "win32":
    _os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")
