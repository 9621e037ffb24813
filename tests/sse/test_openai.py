"""The completions endpoint against the official ``openai`` client.

The client is a real peer nobody here wrote, but it validates little (it builds
objects from whatever JSON arrives), so these tests also check the chunk shapes
themselves.  The raw stream (``data: [DONE]``) and raw HTTP errors: test_server.py.
"""

from __future__ import annotations

import openai
import pytest
from openai import OpenAI

from learn_sse.completions import ChatMessage, reply_text

pytestmark = pytest.mark.differential

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
