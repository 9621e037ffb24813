"""OpenAI-compatible chat completions: request validation, a fixed "model", and the chunks.

Reading order: event_stream -> event_log -> feed -> **completions** -> app -> server;
then client; then the page; then proxy.

Token streaming is the other big use of Server-Sent Events: an LLM API answers
``POST /v1/chat/completions`` with ``"stream": true`` as a ``text/event-stream``
whose every event is ``data: <one JSON chunk>``, ended by ``data: [DONE]``.  That is
the OpenAI Chat Completions streaming format, which many other servers copy::

    data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,
           "model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},...}]}
    data: {... "choices":[{"index":0,"delta":{"content":"This"},"finish_reason":null}]}
    data: {... "choices":[{"index":0,"delta":{"content":" reply"},"finish_reason":null}]}
    data: {... "choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}
    data: [DONE]

(One line each on the wire; wrapped here.)  Only ``data:`` is used: no ``event:``, no
``id:`` and no ``retry:`` (a stream of tokens cannot be resumed: a client that loses
it asks again).  ``"stream": false`` returns one ``chat.completion`` object instead.

**There is no language model here, and no model weights.**  ``reply_text`` builds a
fixed sentence around the last user message, and says so in the reply itself.  What
is real is the wire format, checked by the official ``openai`` client in the tests.

This module is pure (no I/O, no clock, no randomness): the completion id and the
``created`` time are parameters; ``app.py`` passes the real ones and the pacing.
Errors use OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``,
with HTTP 400, so the official client raises ``BadRequestError`` with our message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

DONE = "[DONE]"  # the sentinel after the last chunk: not JSON, clients compare the text
ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
TOKEN = re.compile(r"\s*\S+|\s+")  # a word with the spaces before it; "".join(tokens) == text


class RequestError(Exception):
    """A request we refuse, with OpenAI's error fields."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


def error_body(message: str, param: str | None = None, code: str | None = None,
               type_: str = "invalid_request_error") -> dict[str, object]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: tuple[ChatMessage, ...]
    stream: bool = False
    max_tokens: int | None = None
    include_usage: bool = False


def _missing(name: str) -> RequestError:
    return RequestError(f"Missing required parameter: '{name}'.", name, "missing_required_parameter")


def _wrong_type(name: str, expected: str, value: object) -> RequestError:
    return RequestError(f"Invalid type for '{name}': expected {expected}, but got "
                        f"{type(value).__name__} instead.", name, "invalid_type")


def _content(index: int, value: object) -> str:
    """A message's content: a string, or a list of ``{"type": "text", "text": ...}`` parts."""
    name = f"messages[{index}].content"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = [p.get("text") for p in value if isinstance(p, dict) and p.get("type") == "text"]
        if len(texts) == len(value) and all(isinstance(t, str) for t in texts):
            return "".join(texts)  # type: ignore[arg-type]
    raise _wrong_type(name, "a string or a list of text parts", value)


def parse_request(body: bytes) -> ChatRequest:
    """Validate a request body; raises :class:`RequestError` naming the bad parameter.

    Unknown parameters (temperature, top_p, ...) are accepted and ignored, as a
    client would expect from a server that cannot honour them anyway.
    """
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RequestError(f"We could not parse the JSON body of your request: {exc}. "
                           "Send a JSON object with 'model' and 'messages'.") from None
    if not isinstance(raw, dict):
        raise RequestError("The request body must be a JSON object with 'model' and 'messages'.")
    if "model" not in raw:
        raise _missing("model")
    model = raw["model"]
    if not isinstance(model, str) or not model:
        raise _wrong_type("model", "a non-empty string", model)
    if "messages" not in raw:
        raise _missing("messages")
    items = raw["messages"]
    if not isinstance(items, list):
        raise _wrong_type("messages", "an array", items)
    if not items:
        raise RequestError("'messages' must contain at least one message.", "messages", "empty_array")
    messages = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise _wrong_type(f"messages[{i}]", "an object", item)
        role = item.get("role")
        if role not in ROLES:
            raise RequestError(f"Invalid value for 'messages[{i}].role': {role!r}; expected one of "
                               f"{', '.join(sorted(ROLES))}.", f"messages[{i}].role", "invalid_value")
        if "content" not in item:
            raise _missing(f"messages[{i}].content")
        messages.append(ChatMessage(role, _content(i, item["content"])))
    stream = raw.get("stream", False)
    if not isinstance(stream, bool):
        raise _wrong_type("stream", "a boolean", stream)
    # Newer clients send max_completion_tokens, older ones max_tokens: the same limit.
    limit_name = "max_completion_tokens" if raw.get("max_completion_tokens") is not None else "max_tokens"
    max_tokens = raw.get(limit_name)
    if max_tokens is not None and (type(max_tokens) is not int or max_tokens < 1):
        raise _wrong_type(limit_name, "an integer >= 1", max_tokens)
    options = raw.get("stream_options")
    if options is not None and not stream:
        raise RequestError("The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                           "stream_options", "invalid_value")
    if options is not None and not (isinstance(options, dict) and
                                    isinstance(options.get("include_usage", False), bool)):
        raise _wrong_type("stream_options", 'an object like {"include_usage": true}', options)
    include_usage = bool(options and options.get("include_usage"))
    return ChatRequest(model, tuple(messages), stream, max_tokens, include_usage)


# -- the "model": a fixed rule --------------------------------------------------------------


def reply_text(messages: tuple[ChatMessage, ...]) -> str:
    """The deterministic reply: no model weights, a sentence built around the last user message."""
    said = next((m.content for m in reversed(messages) if m.role == "user"), "")
    words = len(said.split())
    return (f'This is a fixed-rule reply, not a language model: you said "{said}", '
            f"which is {words} word{'' if words == 1 else 's'} long.")


def split_tokens(text: str) -> list[str]:
    """Words with their leading spaces, the way LLM deltas usually look (" world")."""
    return TOKEN.findall(text)


@dataclass(frozen=True)
class Completion:
    """Everything one answer needs, decided before the first byte is sent."""

    id: str
    created: int
    model: str
    tokens: tuple[str, ...]
    finish_reason: str  # "stop": the reply is complete; "length": max_tokens cut it
    prompt_tokens: int
    include_usage: bool = False

    @property
    def text(self) -> str:
        return "".join(self.tokens)

    def usage(self) -> dict[str, int]:
        completion = len(self.tokens)
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": completion,
                "total_tokens": self.prompt_tokens + completion}


def complete(request: ChatRequest, completion_id: str, created: int) -> Completion:
    tokens = split_tokens(reply_text(request.messages))
    finish = "stop"
    if request.max_tokens is not None and len(tokens) > request.max_tokens:
        tokens, finish = tokens[:request.max_tokens], "length"
    prompt = sum(len(split_tokens(m.content)) for m in request.messages)
    return Completion(completion_id, created, request.model, tuple(tokens), finish, prompt,
                      request.include_usage)


def completion_object(c: Completion) -> dict[str, object]:
    """The ``stream: false`` answer: one ``chat.completion`` object."""
    return {"id": c.id, "object": "chat.completion", "created": c.created, "model": c.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": c.text},
                         "logprobs": None, "finish_reason": c.finish_reason}],
            "usage": c.usage()}


def chunk(c: Completion, delta: dict[str, str], finish_reason: str | None = None) -> dict[str, object]:
    """One ``chat.completion.chunk``: the same id, created and model in every chunk."""
    body: dict[str, object] = {
        "id": c.id, "object": "chat.completion.chunk", "created": c.created, "model": c.model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}
    if c.include_usage:
        body["usage"] = None  # OpenAI: null in every chunk but the extra last one
    return body


def stream_chunks(c: Completion) -> Iterator[dict[str, object]]:
    """The chunks of a streamed answer, in order (the ``data: [DONE]`` line is the caller's)."""
    yield chunk(c, {"role": "assistant", "content": ""})  # the role comes first, with no token yet
    for token in c.tokens:
        yield chunk(c, {"content": token})
    yield chunk(c, {}, c.finish_reason)  # an empty delta carries the finish reason
    if c.include_usage:
        # stream_options.include_usage: one more chunk, with no choices and the usage.
        yield {**chunk(c, {}), "choices": [], "usage": c.usage()}


def encode_chunk(body: dict[str, object]) -> str:
    """Compact JSON on one line, as OpenAI sends it (a ``data:`` field must not contain LF)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)
