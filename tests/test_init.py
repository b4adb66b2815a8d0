"""Importing gencommons sets Arrow's allocator to hand freed pages back after 10 ms, unless the user chose."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

# the engine's import path, then an Arrow allocation; MIMALLOC_VERBOSE makes mimalloc print its options
SCRIPT = "import gencommons.data.pipeline, pyarrow as pa; pa.array([1, 2, 3]); import os; print(os.environ['MIMALLOC_PURGE_DELAY'])"


def _run(**env: str) -> tuple[str, int | None]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MIMALLOC_")}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=clean | {"MIMALLOC_VERBOSE": "1"} | env,
        capture_output=True,
        text=True,
        check=True,
    )
    seen = re.search(r"option 'purge_delay': (\d+)", proc.stderr)
    return proc.stdout.strip(), int(seen.group(1)) if seen else None


def test_arrow_allocator_purges_after_10_ms() -> None:
    env_value, in_effect = _run()
    assert env_value == "10"
    if in_effect is None:
        pytest.skip("this pyarrow is built without mimalloc (or it prints no options)")
    assert in_effect == 10


def test_a_purge_delay_the_user_set_is_kept() -> None:
    env_value, in_effect = _run(MIMALLOC_PURGE_DELAY="250")
    assert env_value == "250"
    if in_effect is None:
        pytest.skip("this pyarrow is built without mimalloc (or it prints no options)")
    assert in_effect == 250
