"""The naive baseline of ``serving.py``: an OpenAI-style streaming ``/v1/completions`` that calls
``model.generate`` per request, each in its own thread (what a first FastAPI wrapper around transformers
does). Same model folder, same sampling, same event format and usage chunk as ``gencommons serve``.

    .venv/bin/python bench/_naive_server.py MODEL_DIR --port 8001
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Iterator
from typing import Any

import torch
import uvicorn
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from transformers import AutoModelForCausalLM, AutoTokenizer, TextIteratorStreamer


def build_app(folder: str) -> FastAPI:
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/completions")
    def completions(body: dict[str, Any]) -> StreamingResponse:
        ids = tok(body["prompt"], return_tensors="pt")
        n_new = int(body.get("max_tokens", 16))
        streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)
        kwargs = {
            **ids,
            "max_new_tokens": n_new,
            "min_new_tokens": n_new if body.get("ignore_eos") else 0,
            "do_sample": body.get("temperature", 1.0) > 0,
            "temperature": body.get("temperature", 1.0) or None,
            "top_p": body.get("top_p", 1.0),
            "top_k": None,
            "streamer": streamer,
            "pad_token_id": tok.pad_token_id,
        }
        out: list[torch.Tensor] = []

        def run() -> None:
            with torch.inference_mode():
                out.append(model.generate(**kwargs))

        thread = threading.Thread(target=run)
        thread.start()

        def events() -> Iterator[str]:
            for text in streamer:
                if text:
                    yield f"data: {json.dumps({'choices': [{'index': 0, 'text': text, 'finish_reason': None}]})}\n\n"
            thread.join()
            n = int(out[0].shape[1] - ids["input_ids"].shape[1])
            usage = {"prompt_tokens": int(ids["input_ids"].shape[1]), "completion_tokens": n}
            yield f"data: {json.dumps({'choices': [{'index': 0, 'text': '', 'finish_reason': 'length'}]})}\n\n"
            yield f"data: {json.dumps({'choices': [], 'usage': usage})}\n\ndata: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--port", type=int, default=8001)
    args = ap.parse_args()
    uvicorn.run(build_app(args.model), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
