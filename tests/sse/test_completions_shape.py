"""The OpenAI chat-completion format, built without a server: validation, tokens, chunks.

The official client is checked against the server in tests/sse/test_openai.py; here
the pure builder is pinned down exactly (fixed id and clock), chunk by chunk.
"""

from __future__ import annotations

import json

import pytest

from learn_sse.completions import (
    ChatMessage,
    RequestError,
    complete,
    completion_object,
    encode_chunk,
    parse_request,
    reply_text,
    split_tokens,
    stream_chunks,
)

pytestmark = pytest.mark.pure


def request(**fields) -> bytes:
    body = {"model": "m", "messages": [{"role": "user", "content": "hello world"}], **fields}
    return json.dumps(body).encode()


def test_tokens_are_words_with_their_leading_spaces_and_join_back_exactly():
    text = "  Hello, big\nworld!  "
    assert split_tokens(text) == ["  Hello,", " big", "\nworld!", "  "]
    assert "".join(split_tokens(text)) == text
    assert split_tokens("") == []


def test_the_reply_is_a_fixed_sentence_around_the_last_user_message():
    messages = (ChatMessage("user", "first"), ChatMessage("assistant", "x"), ChatMessage("user", "one two"))
    assert reply_text(messages) == ('This is a fixed-rule reply, not a language model: you said "one two", '
                                    "which is 2 words long.")
    assert "1 word long" in reply_text((ChatMessage("user", "solo"),))


def test_a_streamed_answer_is_role_then_content_then_finish():
    answer = complete(parse_request(request(stream=True)), "chatcmpl-test", 1_700_000_000)
    chunks = list(stream_chunks(answer))
    assert chunks[0] == {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1_700_000_000,
                         "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                                    "logprobs": None, "finish_reason": None}]}
    assert [c["choices"][0]["delta"] for c in chunks[1:3]] == [{"content": "This"}, {"content": " is"}]
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == answer.text
    assert all("usage" not in c for c in chunks)


def test_include_usage_adds_null_usage_everywhere_and_a_last_chunk_with_the_counts():
    answer = complete(parse_request(request(stream=True, stream_options={"include_usage": True})), "c", 0)
    chunks = list(stream_chunks(answer))
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 2, "completion_tokens": len(answer.tokens),
                                   "total_tokens": 2 + len(answer.tokens)}


def test_max_tokens_truncates_with_finish_reason_length():
    answer = complete(parse_request(request(max_tokens=3)), "c", 0)
    assert answer.text == "This is a" and answer.finish_reason == "length"
    body = completion_object(answer)
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "This is a"}
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
    assert complete(parse_request(request(max_completion_tokens=2)), "c", 0).text == "This is"


def test_text_parts_are_accepted_as_content():
    parsed = parse_request(request(messages=[{"role": "user", "content": [{"type": "text", "text": "a"},
                                                                          {"type": "text", "text": "b"}]}]))
    assert parsed.messages == (ChatMessage("user", "ab"),)


@pytest.mark.parametrize(("body", "param", "code"), [
    (b"{", None, None),
    (b"[]", None, None),
    (json.dumps({"messages": []}).encode(), "model", "missing_required_parameter"),
    (json.dumps({"model": "", "messages": []}).encode(), "model", "invalid_type"),
    (json.dumps({"model": "m"}).encode(), "messages", "missing_required_parameter"),
    (json.dumps({"model": "m", "messages": []}).encode(), "messages", "empty_array"),
    (json.dumps({"model": "m", "messages": ["hi"]}).encode(), "messages[0]", "invalid_type"),
    (json.dumps({"model": "m", "messages": [{"content": "x"}]}).encode(),
     "messages[0].role", "invalid_value"),
    (json.dumps({"model": "m", "messages": [{"role": "user", "content": 3}]}).encode(),
     "messages[0].content", "invalid_type"),
    (request(stream=1), "stream", "invalid_type"),
    (request(max_tokens=True), "max_tokens", "invalid_type"),
    (request(max_tokens=-1), "max_tokens", "invalid_type"),
    (request(stream_options={"include_usage": True}), "stream_options", "invalid_value"),
    (request(stream=True, stream_options=[]), "stream_options", "invalid_type"),
])
def test_bad_requests_name_the_parameter_at_fault(body, param, code):
    with pytest.raises(RequestError) as caught:
        parse_request(body)
    assert (caught.value.param, caught.value.code) == (param, code)
    assert caught.value.message


def test_unknown_parameters_are_ignored():
    assert parse_request(request(temperature=0.2, top_p=1)).model == "m"


def test_chunks_encode_to_one_compact_line():
    answer = complete(parse_request(request(messages=[{"role": "user", "content": "line\nbreak"}])), "c", 0)
    for chunk in stream_chunks(answer):
        line = encode_chunk(chunk)
        assert "\n" not in line and "\r" not in line and ", " not in line.split('"content"')[0]
