"""Numeric and bool columns between numpy and Arrow, as buffers, without pyarrow's pandas checks.

pyarrow imports pandas, when it is installed, the first time a process calls ``pa.array``,
``pa.table`` on numpy values, ``pa.scalar``, ``Array.to_numpy`` or a compute function with a Python
scalar: it checks whether the input is a pandas object. That import costs ~34 MB resident and ~0.3
CPU-s in every engine process (measured on the MinHash benchmark, 32,880 documents: 204 against
170 MB, 2.8 against 2.4 CPU-s; ``bench/minhash_vs_peers.py``'s data-extra-only row). The dedup steps and
the runner move numbers, flags and one constant string between numpy and Arrow; these functions wrap
and unwrap the buffers directly (zero-copy for numbers), so a MinHash or exact-dedup run never
imports pandas (``tests/data/test_numpy_arrow.py`` runs one and checks); ``strings`` does the same
for the Python strings substring dedup builds. Anything else (nested values, user data) goes through
pyarrow's own conversions as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa

_NUMPY = {
    pa.int8(): np.int8,
    pa.int16(): np.int16,
    pa.int32(): np.int32,
    pa.int64(): np.int64,
    pa.uint8(): np.uint8,
    pa.uint16(): np.uint16,
    pa.uint32(): np.uint32,
    pa.uint64(): np.uint64,
    pa.float16(): np.float16,
    pa.float32(): np.float32,
    pa.float64(): np.float64,
}


def array(values: np.ndarray, *, null: np.ndarray | None = None) -> pa.Array:
    """A 1-D numeric or bool numpy array as an Arrow array (numbers: no copy of a contiguous array);
    ``null``: a bool mask of the entries that are null."""
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"a 1-D array is needed, not {values.ndim}-D")
    n = len(values)
    validity, null_count = None, 0
    if null is not None:
        null = np.asarray(null, dtype=bool)
        if null.shape != values.shape:
            raise ValueError(f"null mask of {null.shape} for values of {values.shape}")
        null_count = int(np.count_nonzero(null))
        if null_count:
            validity = pa.py_buffer(np.packbits(~null, bitorder="little"))
    if values.dtype == np.bool_:
        data = pa.py_buffer(np.packbits(values, bitorder="little"))
        return pa.Array.from_buffers(pa.bool_(), n, [validity, data], null_count)
    if values.dtype.kind not in "iuf":
        raise TypeError(f"numbers or bools only, not {values.dtype}")
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(
        pa.from_numpy_dtype(values.dtype), n, [validity, pa.py_buffer(values)], null_count
    )


def values(arr: pa.Array | pa.ChunkedArray, *, null: float | bool | None = None) -> np.ndarray:
    """The values of a numeric or bool Arrow array as numpy: a read-only view of Arrow's buffer for
    numbers in one chunk, a new array otherwise. Nulls become ``null``; without it, a null is an error."""
    if isinstance(arr, pa.ChunkedArray):
        if arr.num_chunks != 1:
            parts = [values(c, null=null) for c in arr.chunks]
            return np.concatenate(parts) if parts else np.zeros(0, _dtype(arr.type))
        arr = arr.chunk(0)
    n, offset = len(arr), arr.offset
    data = arr.buffers()[1]
    if pa.types.is_boolean(arr.type):
        if data is None or n == 0:
            out = np.zeros(n, bool)
        else:
            bits = np.frombuffer(data, np.uint8)
            out = np.unpackbits(bits, count=offset + n, bitorder="little")[offset:].astype(bool)
    else:
        dtype = np.dtype(_dtype(arr.type))
        if data is None or n == 0:
            out = np.zeros(n, dtype)
        else:
            out = np.frombuffer(data, dtype, count=n, offset=offset * dtype.itemsize)
    if arr.null_count:
        if null is None:
            raise ValueError(f"{arr.null_count} null value(s) in a column that must have none")
        bitmap = arr.buffers()[0]
        out = out.copy()
        if bitmap is None:  # all null, without a bitmap
            out[:] = null
        else:
            valid = np.unpackbits(np.frombuffer(bitmap, np.uint8), count=offset + n, bitorder="little")
            out[valid[offset:] == 0] = null
    return out


def contiguous(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One array of the values: the chunk itself when there is one. ``ChunkedArray.combine_chunks``
    copies even a single chunk (pyarrow 26): a batch's text, copied, was ~9 MB of the MinHash step's
    peak on the benchmark corpus."""
    if not isinstance(arr, pa.ChunkedArray):
        return arr
    if arr.num_chunks == 1:
        return arr.chunk(0)
    return arr.combine_chunks()


def _dtype(t: pa.DataType) -> type:
    if pa.types.is_boolean(t):
        return np.bool_
    try:
        return _NUMPY[t]
    except KeyError:
        raise TypeError(f"numbers or bools only, not {t}") from None


def table(columns: Mapping[str, np.ndarray | pa.Array | pa.ChunkedArray]) -> pa.Table:
    """A table of numpy (numeric, bool) and Arrow columns, in the mapping's order."""
    arrays = [c if isinstance(c, (pa.Array, pa.ChunkedArray)) else array(c) for c in columns.values()]
    return pa.Table.from_arrays(arrays, names=list(columns))


def strings_where(mask: np.ndarray, text: str) -> pa.Array:
    """A string array: ``text`` where ``mask`` is true, null elsewhere (``large_string`` past 2 GiB)."""
    mask = np.asarray(mask, dtype=bool)
    raw = text.encode("utf-8")
    hits = int(np.count_nonzero(mask))
    large = hits * len(raw) >= 2**31
    offsets = np.zeros(len(mask) + 1, dtype=np.int64 if large else np.int32)
    np.cumsum(mask * len(raw), out=offsets[1:])
    validity = pa.py_buffer(np.packbits(mask, bitorder="little")) if hits < len(mask) else None
    return pa.Array.from_buffers(
        pa.large_string() if large else pa.string(),
        len(mask),
        [validity, pa.py_buffer(offsets), pa.py_buffer(raw * hits)],
        len(mask) - hits,
    )


def strings(texts: Sequence[str | None], *, large: bool = False) -> pa.Array:
    """Python strings (``None``: null) as a string array (``large_string`` if ``large`` or past 2 GiB)."""
    raw = [t.encode("utf-8") if t is not None else b"" for t in texts]
    lengths = np.fromiter((len(r) for r in raw), dtype=np.int64, count=len(raw))
    large = large or int(lengths.sum()) >= 2**31
    offsets = np.zeros(len(raw) + 1, dtype=np.int64 if large else np.int32)
    np.cumsum(lengths, out=offsets[1:])
    null = np.fromiter((t is None for t in texts), dtype=bool, count=len(raw))
    nulls = int(np.count_nonzero(null))
    validity = pa.py_buffer(np.packbits(~null, bitorder="little")) if nulls else None
    return pa.Array.from_buffers(
        pa.large_string() if large else pa.string(),
        len(raw),
        [validity, pa.py_buffer(offsets), pa.py_buffer(b"".join(raw))],
        nulls,
    )


def repeated(text: str, n: int) -> pa.Array:
    """A string array of ``n`` times ``text`` (``[0]`` of it: an Arrow scalar, for compute functions)."""
    return strings_where(np.ones(n, dtype=bool), text)


def empty_table(schema: pa.Schema) -> pa.Table:
    """A table of no rows (``Schema.empty_table`` imports pandas)."""
    return pa.Table.from_batches([], schema=schema)
