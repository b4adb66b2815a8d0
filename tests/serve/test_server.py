"""``gencommons serve``'s app, run for real on loopback, called with the official ``openai`` client."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from openai import OpenAI

from gencommons.backends.local import LocalBackend

Served = tuple[LocalBackend, str]
CHAT = [{"role": "user", "content": "Écris un poème sur la mer."}]


@pytest.fixture(scope="module")
def client(tiny_server: Served) -> OpenAI:
    return OpenAI(base_url=f"{tiny_server[1]}/v1", api_key="x", max_retries=0)


def test_models(client: OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["tiny-llama"]


def test_completion_and_chat(client: OpenAI) -> None:
    c = client.completions.create(model="tiny-llama", prompt="Once upon a time", max_tokens=5, seed=1)
    assert c.object == "text_completion"
    assert c.choices[0].finish_reason in ("stop", "length")
    assert c.usage is not None
    assert c.usage.prompt_tokens > 0
    assert c.usage.completion_tokens <= 5
    r = client.chat.completions.create(
        model="tiny-llama", messages=CHAT, max_tokens=12, temperature=0.5, top_p=0.9, seed=2
    )
    assert r.choices[0].message.role == "assistant"
    assert isinstance(r.choices[0].message.content, str)
    assert r.usage is not None
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


@pytest.mark.parametrize("chat", [True, False])
def test_stream_reassembles_to_the_whole_answer(client: OpenAI, chat: bool) -> None:
    kw = {"model": "tiny-llama", "max_tokens": 30, "seed": 42, "temperature": 0.9}
    if chat:
        whole = client.chat.completions.create(messages=CHAT, **kw)
        chunks = list(
            client.chat.completions.create(
                messages=CHAT, stream=True, stream_options={"include_usage": True}, **kw
            )
        )
        text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
        assert text == whole.choices[0].message.content
        assert chunks[0].choices[0].delta.role == "assistant"
        finishes = [ch.choices[0].finish_reason for ch in chunks if ch.choices]
        assert finishes[-1] == whole.choices[0].finish_reason
        assert set(finishes[:-1]) == {None}
        assert chunks[-1].usage == whole.usage  # the usage chunk has no choices
    else:
        whole_c = client.completions.create(prompt="Il était une fois", **kw)
        parts = list(client.completions.create(prompt="Il était une fois", stream=True, **kw))
        assert "".join(p.choices[0].text for p in parts) == whole_c.choices[0].text
        assert parts[-1].choices[0].finish_reason == whole_c.choices[0].finish_reason
        assert len(parts) > 2


def test_seed_and_stop(client: OpenAI) -> None:
    def text(**kw: object) -> str:
        r = client.completions.create(model="tiny-llama", prompt="The sea", max_tokens=40, **kw)  # type: ignore[call-overload]
        return str(r.choices[0].text)

    a, b = text(seed=5, extra_body={"ignore_eos": True}), text(seed=5, extra_body={"ignore_eos": True})
    assert a == b
    assert a != text(seed=6, extra_body={"ignore_eos": True})
    stop = a[12:15]
    r = client.completions.create(
        model="tiny-llama", prompt="The sea", max_tokens=40, seed=5, stop=[stop, "@@@"]
    )
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].text == a[: a.index(stop)]


def test_concurrent_streams_all_complete(tiny_server: Served, client: OpenAI) -> None:
    n = 12  # more than the batch size of 8: some wait for a row
    alone = [
        client.chat.completions.create(
            model="tiny-llama", messages=[{"role": "user", "content": f"n°{i}"}], max_tokens=20, seed=i
        )
        .choices[0]
        .message.content
        for i in range(n)
    ]

    def ask(i: int) -> str:
        stream = client.chat.completions.create(
            model="tiny-llama",
            messages=[{"role": "user", "content": f"n°{i}"}],
            max_tokens=20,
            seed=i,
            stream=True,
        )
        return "".join(ch.choices[0].delta.content or "" for ch in stream)

    with ThreadPoolExecutor(n) as pool:
        got = list(pool.map(ask, range(n)))
    assert got == alone


def test_event_stream_format(tiny_server: Served) -> None:
    body = {"model": "tiny-llama", "prompt": "x", "max_tokens": 3, "stream": True}
    with httpx.stream("POST", f"{tiny_server[1]}/v1/completions", json=body) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = r.read().decode()
    events = raw.split("\n\n")
    assert events[-1] == ""
    assert events[-2] == "data: [DONE]"
    assert all(e.startswith("data: ") for e in events[:-1])
    assert json.loads(events[-3][6:])["choices"][0]["finish_reason"] in ("stop", "length")


def test_disconnected_client_frees_its_row(tiny_server: Served) -> None:
    backend, url = tiny_server
    body = {"model": "tiny-llama", "prompt": "x", "max_tokens": 400, "stream": True, "ignore_eos": True}
    with httpx.stream("POST", f"{url}/v1/completions", json=body) as r:
        next(r.iter_lines())
    deadline = time.monotonic() + 10
    while backend.engine.batch is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert backend.engine.batch is None


@pytest.mark.parametrize(
    ("kw", "status", "param", "code"),
    [
        ({"max_tokens": -1}, 400, "max_tokens", "invalid_value"),
        ({"temperature": 3}, 400, "temperature", "invalid_value"),
        ({"top_p": 0}, 400, "top_p", "invalid_value"),
        ({"n": 2}, 400, "n", "invalid_value"),
        ({"prompt": "x" * 1_000_000}, 400, "prompt", "context_length_exceeded"),
        ({"prompt": ["a", "b"]}, 400, "prompt", "invalid_value"),
        ({"model": "gpt-4"}, 404, "model", "model_not_found"),
    ],
)
def test_bad_requests_get_openai_errors(client: OpenAI, kw: dict, status: int, param: str, code: str) -> None:
    args = {"model": "tiny-llama", "prompt": "hi", "max_tokens": 4} | kw
    with pytest.raises(openai.APIStatusError) as e:
        client.completions.create(**args)
    assert e.value.status_code == status
    err = e.value.body
    assert isinstance(err, dict)  # the client unwraps {"error": {...}}
    assert (err["param"], err["code"]) == (param, code)
    assert err["message"]
    assert err["type"] == "invalid_request_error"


def test_bad_chat_and_raw_bodies(tiny_server: Served, client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="context length"):
        client.chat.completions.create(
            model="tiny-llama", messages=[{"role": "user", "content": "é" * 10_000}]
        )
    with pytest.raises(openai.BadRequestError, match="messages"):
        client.chat.completions.create(model="tiny-llama", messages=[])
    url = tiny_server[1]
    r = httpx.post(
        f"{url}/v1/chat/completions",
        content=b'{"model": "tiny-llama", "messages": [',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_json"
    r = httpx.get(f"{url}/v1/nothing")
    assert r.status_code == 404
    assert set(r.json()["error"]) == {"message", "type", "param", "code"}
