"""Regenerate the step reference between the steps markers in README.md (`make docs`)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from gencommons.data.cli import steps_markdown
from gencommons.data.step import steps

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- steps:start -->", "<!-- steps:end -->"


def render(text: str) -> str:
    body = steps_markdown(steps.names())
    return re.sub(
        f"{re.escape(START)}.*?{re.escape(END)}", lambda _: f"{START}\n{body}{END}", text, flags=re.DOTALL
    )


if __name__ == "__main__":
    old = README.read_text(encoding="utf-8")
    new = render(old)
    README.write_text(new, encoding="utf-8")
    sys.stdout.write("README.md steps updated\n" if new != old else "README.md steps already current\n")
