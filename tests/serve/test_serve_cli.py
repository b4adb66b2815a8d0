"""``gencommons serve``: its help, and the real command answering the openai client."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from openai import OpenAI
from typer.testing import CliRunner

from gencommons.cli import app
from gencommons.errors import UserError


def test_help_lists_the_options() -> None:
    out = CliRunner().invoke(app, ["serve", "--help"]).output
    for option in ("--host", "--port", "--max-batch-size", "--model-name"):
        assert option in out


def test_not_a_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["serve", str(tmp_path / "missing")])
    assert isinstance(r.exception, UserError)  # main() prints it as "Error: ..." without a traceback
    assert "neither a model folder" in str(r.exception)


@pytest.mark.slow
def test_serve_command_answers_the_openai_client(tiny_model_dir: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "gencommons.cli", "serve", str(tiny_model_dir), "--port", str(port)]
    proc = subprocess.Popen([*cmd, "--model-name", "tiny", "--max-batch-size", "4"], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health")
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.2)
        client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x")
        assert [m.id for m in client.models.list()] == ["tiny"]
        r = client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "Hi"}], max_tokens=3
        )
        assert r.choices[0].finish_reason in ("stop", "length")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stderr:
            proc.stderr.close()
