"""The completions endpoint against the official ``openai`` client, and on the raw wire.

The client is a real peer nobody here wrote, but it validates little (it builds
objects from whatever JSON arrives), so these tests also check the chunk shapes
themselves, and the raw stream for the ``data: [DONE]`` terminator.
"""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from openai import OpenAI

from learn_sse.completions import ChatMessage, reply_text

PROMPT = "Tell me about server-sent events"
EXPECTED = reply_text((ChatMessage("user", PROMPT),))


@pytest.fixture
def llm(sse_server):
    server = sse_server("--token-delay", "0.005")
    return server, OpenAI(base_url=server.url("/v1"), api_key="x", max_retries=0, timeout=10)


def test_the_openai_client_reassembles_the_streamed_reply_exactly(llm):
    server, client = llm
    stream = client.chat.completions.create(
        model="learn-sse-echo", stream=True,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": PROMPT}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == EXPECTED
    assert "not a language model" in text  # the reply says what it is

    # The shapes the client did not check for us:
    assert len({c.id for c in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-")
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert {c.model for c in chunks} == {"learn-sse-echo"} and len({c.created for c in chunks}) == 1
    first, last = chunks[0].choices[0], chunks[-1].choices[0]
    assert first.delta.role == "assistant" and first.delta.content == "" and first.finish_reason is None
    assert last.finish_reason == "stop" and last.delta.content is None and last.delta.role is None
    middle = [c.choices[0] for c in chunks[1:-1]]
    assert len(middle) > 5 and all(m.finish_reason is None and m.delta.role is None for m in middle)
    assert all(c.choices[0].index == 0 for c in chunks)


def test_stream_options_include_usage_adds_a_last_chunk_without_choices(llm):
    _, client = llm
    chunks = list(client.chat.completions.create(
        model="m", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": PROMPT}]))
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert all(c.usage is None for c in chunks[:-1])
    usage = chunks[-1].usage
    assert usage.completion_tokens == len(chunks) - 3  # minus the role, finish and usage chunks
    assert usage.prompt_tokens == len(PROMPT.split())
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_max_tokens_cuts_the_reply_with_finish_reason_length(llm):
    _, client = llm
    chunks = list(client.chat.completions.create(
        model="m", stream=True, max_tokens=4, messages=[{"role": "user", "content": PROMPT}]))
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == "This is a fixed-rule"
    assert chunks[-1].choices[0].finish_reason == "length"


def test_the_non_streaming_variant_returns_one_chat_completion(llm):
    _, client = llm
    completion = client.chat.completions.create(
        model="learn-sse-echo", messages=[{"role": "user", "content": PROMPT}])
    assert completion.object == "chat.completion" and completion.id.startswith("chatcmpl-")
    choice = completion.choices[0]
    assert choice.message.role == "assistant" and choice.message.content == EXPECTED
    assert choice.finish_reason == "stop"
    usage = completion.usage
    assert usage.prompt_tokens == len(PROMPT.split()) and usage.completion_tokens == len(EXPECTED.split())
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_a_malformed_request_raises_bad_request_error_with_our_message(llm):
    _, client = llm
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="m", messages=[{"role": "wizard", "content": "hi"}])
    assert caught.value.status_code == 400
    assert "Invalid value for 'messages[0].role'" in str(caught.value)
    assert caught.value.param == "messages[0].role" and caught.value.type == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="m", messages=[])
    assert "at least one message" in caught.value.message


def test_raw_http_errors_for_bad_json_and_missing_fields(sse_server):
    server = sse_server()
    url = server.url("/v1/chat/completions")
    cases = [
        (b"{not json", None, "could not parse the JSON"),
        (b'{"messages": []}', "model", "Missing required parameter: 'model'"),
        (b'{"model": "m"}', "messages", "Missing required parameter: 'messages'"),
        (b'{"model": "m", "messages": "hi"}', "messages", "Invalid type for 'messages'"),
        (b'{"model": "m", "messages": [{"role": "user"}]}', "messages[0].content", "Missing required"),
        (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}', "stream",
         "Invalid type for 'stream'"),
        (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}', "max_tokens",
         "an integer >= 1"),
        (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "stream_options": {}}',
         "stream_options", "only allowed when 'stream' is enabled"),
    ]
    for body, param, words in cases:
        response = httpx.post(url, content=body, headers={"content-type": "application/json"}, timeout=5)
        assert response.status_code == 400, body
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error" and error["param"] == param, (body, error)
        assert words in error["message"], (body, error)


def test_the_raw_stream_is_data_lines_only_and_ends_with_done(sse_server):
    server = sse_server("--token-delay", "0")
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi there"}]}
    with httpx.stream("POST", server.url("/v1/chat/completions"), json=body, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = response.read().decode()
    assert raw.endswith("data: [DONE]\n\n")
    blocks = raw.removesuffix("\n\n").split("\n\n")
    assert all(b.startswith("data: ") and "\n" not in b for b in blocks), blocks  # one data line each
    chunks = [json.loads(b.removeprefix("data: ")) for b in blocks[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == reply_text(
        (ChatMessage("user", "hi there"),))
