"""Serve a model folder with `gencommons serve` and ask it something through the official OpenAI client.

    .venv/bin/python examples/ask_model.py demo-lm/model "Tell me about Debian packages."

Starts the server on a free local port, streams one chat completion and one plain completion, prints
them, and stops the server. (A model trained for a minute on 0.3M tokens writes word salad with the
corpus' vocabulary; the point is the path from data to a served model.)
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from openai import APIConnectionError, APIStatusError, OpenAI


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    model = sys.argv[1] if len(sys.argv) > 1 else "demo-lm/model"
    prompt = sys.argv[2] if len(sys.argv) > 2 else "Tell me about Debian packages."
    port = free_port()
    gencommons = Path(sys.executable).with_name("gencommons")
    server = subprocess.Popen(
        [str(gencommons), "serve", model, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0)
    try:
        deadline = time.monotonic() + 120
        while True:  # wait until the server answers
            try:
                name = client.models.list().data[0].id
                break
            except (APIConnectionError, APIStatusError):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the server did not start (exit code {server.poll()})") from None
                time.sleep(0.5)
        print(f"model: {name} at http://127.0.0.1:{port}/v1\n> {prompt}")
        stream = client.chat.completions.create(
            model=name,
            messages=[{"role": "user", "content": prompt}],
            max_tokens=40,
            temperature=0.8,
            seed=0,
            stream=True,
        )
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                print(chunk.choices[0].delta.content, end="", flush=True)
        print()
        done = client.completions.create(
            model=name, prompt="The Debian package", max_tokens=30, temperature=0, seed=0
        )
        print(f"> The Debian package{done.choices[0].text}")
        print(
            f"(usage: {done.usage.prompt_tokens} prompt + {done.usage.completion_tokens} completion tokens)"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
