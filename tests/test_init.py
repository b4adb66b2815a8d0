"""Importing gencommons makes jemalloc Arrow's pool, and mimalloc (where a user chooses it) hand freed
pages back after 10 ms, unless the user chose otherwise."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

# the engine's import path, then an Arrow allocation; MIMALLOC_VERBOSE makes mimalloc print its options
SCRIPT = "import gencommons.data.pipeline, pyarrow as pa; pa.array([1, 2, 3]); import os; print(os.environ['MIMALLOC_PURGE_DELAY'])"


def _run(**env: str) -> tuple[str, int | None]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("MIMALLOC_", "ARROW_DEFAULT_MEMORY_POOL"))
    }
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=clean | {"MIMALLOC_VERBOSE": "1", "ARROW_DEFAULT_MEMORY_POOL": "mimalloc"} | env,
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


POOL = "import gencommons, pyarrow as pa; print(pa.default_memory_pool().backend_name)"
CONF = "import gencommons, os; print(os.environ['JE_ARROW_MALLOC_CONF'])"


@pytest.mark.skipif(sys.platform == "win32", reason="pyarrow has no jemalloc on Windows")
@pytest.mark.parametrize(
    ("variable", "script", "chosen", "expected"),
    [
        ("ARROW_DEFAULT_MEMORY_POOL", POOL, None, "jemalloc"),
        ("ARROW_DEFAULT_MEMORY_POOL", POOL, "system", "system"),
        ("ARROW_DEFAULT_MEMORY_POOL", POOL, "mimalloc", "mimalloc"),
        ("JE_ARROW_MALLOC_CONF", CONF, None, "dirty_decay_ms:1,muzzy_decay_ms:0"),
        ("JE_ARROW_MALLOC_CONF", CONF, "dirty_decay_ms:0", "dirty_decay_ms:0"),
    ],
)
def test_arrow_pool_is_jemalloc_returning_pages_after_1_ms_unless_the_user_chose(
    variable: str, script: str, chosen: str | None, expected: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != variable}
    if chosen is not None:
        env[variable] = chosen
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected
