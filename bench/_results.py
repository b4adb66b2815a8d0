"""Write a benchmark's report: ``bench/results/<name>.md`` (printed too) and ``<name>.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def write_results(name: str, md: str, payload: dict[str, Any]) -> None:
    """Print ``md`` and write it with the JSON ``payload`` under ``bench/results/``."""
    print("\n" + md)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.md").write_text(md + "\n", encoding="utf-8")
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=1, default=str) + "\n", encoding="utf-8")
