"""numpy <-> Arrow through buffers equals pyarrow's own conversions, and keeps pandas out of dedup runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gencommons.data import numpy_arrow as na

DTYPES = [
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float32",
    "float64",
    "bool",
]


@st.composite
def columns(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray | None]:
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    n = draw(st.integers(0, 70))
    values = draw(
        hnp.arrays(
            dtype,
            n,
            elements=None if dtype.kind != "f" else st.floats(allow_nan=False, width=dtype.itemsize * 8),
        )
    )
    null = draw(st.none() | hnp.arrays(np.bool_, n))
    return values, null


@given(columns(), st.data())
def test_array_equals_pyarrows_conversion(
    col: tuple[np.ndarray, np.ndarray | None], data: st.DataObject
) -> None:
    values, null = col
    got = na.array(values, null=null)
    want = pa.array(values, mask=null)
    assert got.type == want.type
    assert got.null_count == want.null_count
    assert got.equals(want)
    got.validate(full=True)
    # and back, from any slice (a non-zero offset into the buffers)
    lo = data.draw(st.integers(0, len(values)))
    hi = data.draw(st.integers(lo, len(values)))
    part = want.slice(lo, hi - lo)
    fill = False if values.dtype == np.bool_ else 7
    expect = np.where(null[lo:hi], fill, values[lo:hi]) if null is not None else values[lo:hi]
    np.testing.assert_array_equal(na.values(part, null=fill), expect.astype(values.dtype))
    assert na.values(part, null=fill).dtype == values.dtype


@given(st.lists(hnp.arrays(np.int64, st.integers(0, 20)), max_size=4))
def test_values_of_a_chunked_array_are_its_chunks_in_order(parts: list[np.ndarray]) -> None:
    chunked = pa.chunked_array([pa.array(p) for p in parts], pa.int64())
    want = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    got = na.values(chunked)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.int64


@given(st.lists(st.none() | st.text(), max_size=30), st.booleans())
def test_strings_equal_pyarrows_conversion(texts: list[str | None], large: bool) -> None:
    """Python strings and Nones (any Unicode, surrogates excluded by ``st.text``) as Arrow equal what
    ``pa.array`` makes of them, nulls included."""
    got = na.strings(texts, large=large)
    want = pa.array(texts, pa.large_string() if large else pa.string())
    got.validate(full=True)
    assert got.type == want.type
    assert got.equals(want)
    assert got.null_count == sum(t is None for t in texts)


def test_a_null_without_a_fill_value_is_an_error() -> None:
    with pytest.raises(ValueError, match="1 null value"):
        na.values(pa.array([1, None, 3]))


def test_all_null_columns_take_the_fill_value() -> None:
    np.testing.assert_array_equal(na.values(pa.nulls(3, pa.int64()), null=-1), [-1, -1, -1])
    np.testing.assert_array_equal(na.values(pa.array([None, 2.5, None])[1:], null=0.0), [2.5, 0.0])
    assert na.values(pa.chunked_array([], pa.uint32())).dtype == np.uint32


def test_strings_and_2d_arrays_are_refused() -> None:
    with pytest.raises(TypeError, match="numbers or bools"):
        na.array(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="numbers or bools"):
        na.values(pa.array(["a"]))
    with pytest.raises(ValueError, match="1-D"):
        na.array(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="null mask"):
        na.array(np.zeros(3), null=np.zeros(2, bool))


@given(hnp.arrays(np.bool_, st.integers(0, 200)), st.text(max_size=5))
def test_strings_where_equals_if_else(mask: np.ndarray, text: str) -> None:
    got = na.strings_where(mask, text)
    got.validate(full=True)
    want = pc.if_else(pa.array(mask), pa.scalar(text), pa.scalar(None, pa.string()))
    assert got.equals(want)


def test_repeated() -> None:
    assert na.repeated("NOASSERTION", 3).to_pylist() == ["NOASSERTION"] * 3
    assert na.repeated("x", 0).to_pylist() == []
    assert na.repeated("ü", 1)[0].as_py() == "ü"


def test_table_keeps_order_and_arrow_columns() -> None:
    ids = pa.array(["x", "y"])
    t = na.table({"n": np.array([1, 2], np.uint32), "id": ids, "flag": np.array([True, False])})
    assert t.column_names == ["n", "id", "flag"]
    assert t.schema.field("n").type == pa.uint32()
    assert t.to_pylist() == [{"n": 1, "id": "x", "flag": True}, {"n": 2, "id": "y", "flag": False}]


def test_dedup_runs_never_import_pandas(tmp_path: Path) -> None:
    """A MinHash run (verify, keep by score, a scope), an exact-dedup run and a substring-dedup run, in
    a fresh interpreter with pandas installed, never import it (~34 MB and ~0.3 CPU-s a process)."""
    pytest.importorskip("pandas")
    words = np.array(["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "seven"])
    rng = np.random.default_rng(0)
    with open(tmp_path / "in.jsonl", "w", encoding="utf-8") as fh:
        for i in range(60):
            base = " ".join(rng.choice(words, 40)) if i % 3 == 0 else base  # noqa: F821 - set at i = 0
            text = base if i % 3 != 2 else base + " and one more"
            row = {
                "id": f"d{i}",
                "text": text,
                "source": "a" if i < 30 else "b",
                "score": None if i % 7 == 0 else float(i),
            }
            fh.write(json.dumps(row) + "\n")
    minhash = {
        "minhash_dedup": {
            "num_perm": 32,
            "threshold": 0.7,
            "verify": True,
            "keep": "score",
            "score_column": "score",
            "scope": "source",
        }
    }
    substring = {"substring_dedup": {"min_tokens": 10}}
    code = (
        "import sys\n"
        "from gencommons.data.pipeline import Pipeline\n"
        f"tmp = {str(tmp_path)!r}\n"
        "for name, step in (('m', "
        + repr(minhash)
        + "), ('e', 'exact_dedup'), ('s', "
        + repr(substring)
        + ")):\n"
        "    r = Pipeline.from_dict({'input': {'path': tmp + '/in.jsonl'}, 'steps': [step], 'output': {'path': tmp + '/' + name}}).run()\n"
        "    print(r.manifest['counts']['documents_out'], r.manifest['steps'][0]['counts'].get('docs_changed', 0))\n"
        "print('pandas' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout.split()
    assert out[-1] == "False"
    # MinHash and exact dedup removed duplicates; substring dedup cut repeated spans (and dropped the
    # documents left too short)
    assert 0 < int(out[0]) < 60
    assert 0 < int(out[2]) < 60
    assert int(out[4]) < 60
    assert int(out[5]) > 0


@given(sizes=st.lists(st.integers(0, 5), max_size=4))
def test_contiguous_is_one_array_of_the_values_without_a_copy_of_one_chunk(sizes: list[int]) -> None:
    chunks = [pa.array([f"d{n}-{i}" for i in range(n)], pa.large_string()) for n in sizes]
    arr = pa.chunked_array(chunks, pa.large_string())
    got = na.contiguous(arr)
    assert isinstance(got, pa.Array)
    assert got.to_pylist() == arr.to_pylist()
    if len(chunks) == 1:  # the chunk itself: its data buffer, not a copy
        assert got.buffers()[2].address == chunks[0].buffers()[2].address
    plain = pa.array(["x"])
    assert na.contiguous(plain) is plain
