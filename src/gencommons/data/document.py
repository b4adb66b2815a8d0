"""The batch schema: a batch of documents is a ``pyarrow.Table``.

Required columns: ``id`` (string, unique within a dataset) and ``text`` (large_string). Every other
column is metadata (``source``, ``url``, ``license`` as an SPDX id, ``lang``, scores added by steps) and
travels through every step and writer untouched.
"""

from __future__ import annotations

import pyarrow as pa

ID = "id"
TEXT = "text"
LICENSE = "license"
REQUIRED = (ID, TEXT)


def normalize_batch(table: pa.Table) -> pa.Table:
    """Cast ``id`` to string and ``text`` to large_string, keeping column order id, text, rest."""
    id_col = table[ID]
    if id_col.type != pa.string():
        id_col = id_col.cast(pa.string())
    text_col = table[TEXT]
    if text_col.type != pa.large_string():
        text_col = text_col.cast(pa.large_string())
    rest = [n for n in table.column_names if n not in REQUIRED]
    return pa.Table.from_arrays([id_col, text_col, *(table[n] for n in rest)], names=[ID, TEXT, *rest])
