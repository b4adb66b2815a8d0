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
#
# pyarrow's jemalloc returns freed pages to the OS on a background thread (`jemalloc_bg_thd`) once they
# have been unused for `dirty_decay_ms`, then `muzzy_decay_ms`. At 1 ms and 0 the MinHash benchmark
# peaks at 131 instead of ~136 MB (32,880 documents; 2 workers 280 against 287) and at 145-146 instead
# of 151-155 MB (131,520 documents), for 0-3 % more CPU time; a filter pipeline (Gopher, C4,
# repetition) at 347-348 instead of 358-384 MB, at the same CPU time. Decays of 0 (every page returned
# by the freeing thread, at once) peak lower still, 123-124 MB, but cost ~25 % more CPU time: README's
# "short of memory" setting. jemalloc reads the variable once, when it starts.
if __import__("sys").platform != "win32":
    _os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")
    _os.environ.setdefault("JE_ARROW_MALLOC_CONF", "dirty_decay_ms:1,muzzy_decay_ms:0")
