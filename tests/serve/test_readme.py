"""The README's "Serve a model" examples run as written (against the tiny model)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gencommons.backends.local import LocalBackend

README = Path(__file__).resolve().parents[2] / "README.md"


def _blocks() -> list[str]:
    section = README.read_text(encoding="utf-8").split("## Serve a model", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def test_readme_examples_run(
    tiny_server: tuple[LocalBackend, str], tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client_example, backend_example = _blocks()
    exec(client_example.replace("http://127.0.0.1:8000", tiny_server[1]), {})  # noqa: S102 (the README, as written)
    exec(backend_example.replace("path/to/model", str(tiny_model_dir)), {})  # noqa: S102
    assert capsys.readouterr().out
