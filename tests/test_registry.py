"""The registry: a name imports only the home modules that spell it, and everything else still works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gencommons.errors import UnknownNameError
from gencommons.registry import Registry


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A home package of three modules: one registers "alpha", one a computed name, one fails."""
    pkg = tmp_path / "reg_home"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "_shared.py").write_text(
        "from gencommons.registry import Registry\nR = Registry('thing', package='reg_home', group=None)\n"
    )
    (pkg / "alpha.py").write_text("from reg_home._shared import R\nR.add('alpha', 1)\n")
    (pkg / "computed.py").write_text("from reg_home._shared import R\nR.add('be' + 'ta', 2)\n")
    (pkg / "other.py").write_text("from reg_home._shared import R\nR.add('gamma', 3)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("reg_home")]:
        monkeypatch.delitem(sys.modules, name)
    return "reg_home"


def test_a_name_imports_only_the_modules_that_spell_it(home: str) -> None:
    from reg_home._shared import R  # type: ignore[import-not-found]

    assert R["alpha"] == 1
    assert "reg_home.alpha" in sys.modules
    assert "reg_home.other" not in sys.modules
    assert "reg_home.computed" not in sys.modules
    assert "gamma" in R  # found the same way
    assert "reg_home.computed" not in sys.modules


def test_a_name_no_source_spells_falls_back_to_every_module(home: str) -> None:
    from reg_home._shared import R  # type: ignore[import-not-found]

    assert R["beta"] == 2  # registered under a computed name: found by importing everything
    assert R.names() == ["alpha", "beta", "gamma"]
    with pytest.raises(UnknownNameError, match="Did you mean 'alpha'"):
        R["alpah"]


def test_a_dedup_pipeline_never_imports_polars() -> None:
    """Looking up the dedup steps imports neither the filters nor polars (~35 MB and ~0.1 s a process);
    a filter does."""
    code = (
        "import sys\n"
        "from gencommons.data.step import steps\n"
        "steps['minhash_dedup']; steps['exact_dedup']; steps['substring_dedup']\n"
        "print('polars' in sys.modules, 'gencommons.data.steps.gopher' in sys.modules)\n"
        "steps['gopher_quality']\n"
        "print('polars' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "True"]


def test_registry_without_a_home_package() -> None:
    r: Registry[int] = Registry("number", package=None, group=None)
    r.add("one", 1)
    assert r["one"] == 1
    assert "two" not in r
    with pytest.raises(ValueError, match="registered twice"):
        r.add("one", 2)
