"""The host's answers when a server asks: sampling (ask the model) and elicitation (ask the user).

Reading order: ... -> client -> **asking** -> guards -> planner -> agent.

Spec: 2025-11-25 client/sampling and client/elicitation.  A client that sets
``McpClient.answerer`` declares ``capabilities.sampling`` and ``.elicitation``
(in ``initialize``, or in every 2026-07-28 request's ``_meta``), and the
transports hand it every request the server sends (stdio: a line on stdout;
HTTP: an event on a POST's SSE stream, or on the GET stream).

- **Sampling** (``sampling/createMessage``): the server wants the host's model
  to answer ``messages``.  The guardrail comes first: ``confirm`` shows the user
  what the server asks; "no" is the JSON-RPC error -1 (the spec's "user
  rejected").  Then ``generate`` (the host's model, e.g.
  ``OpenAICompatiblePlanner.generate``) writes the text.
- **Elicitation** (``elicitation/create``): the server wants the user to fill in
  ``requestedSchema``, a flat object of strings, numbers, booleans and enums.
  The user accepts (with content), declines, or cancels.  Here the user is a
  script (tests, demo).  Accepted content gets the schema's defaults (SEP-1034)
  and is checked against the schema before it leaves (``check_content``): content
  that does not fit is not sent; the host answers ``cancel`` instead.

A 2026-07-28 server asks differently: its result says ``input_required`` and
carries the requests; ``answer_inputs`` answers them with the same Answerer, and
``McpClient.request`` retries the call with the answers (multi round-trip requests).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from .. import jsonrpc
from ..jsonrpc import ErrorResponse, Request, Response
from .client_session import answer_server_request

USER_REJECTED = -1  # the spec's example code for a sampling request the user refused
Generate = Callable[[list[dict[str, Any]], int], Awaitable[str]]


def enum_values(spec: dict[str, Any]) -> list[Any] | None:
    """The allowed values of a SEP-1330 enum field: ``enum``, or ``oneOf``/``anyOf`` of ``const``."""
    if "enum" in spec:
        return list(spec["enum"])
    choices = spec.get("oneOf") or spec.get("anyOf")
    return [c.get("const") for c in choices] if isinstance(choices, list) else None


def _problem(name: str, spec: dict[str, Any], value: Any) -> str | None:
    kind = spec.get("type")
    if kind == "array":
        allowed = enum_values(spec.get("items") or {})
        if not isinstance(value, list) or (allowed is not None and any(v not in allowed for v in value)):
            return f"{name}: expected a list of {allowed}"
        return None
    checks = {"string": lambda v: isinstance(v, str), "boolean": lambda v: isinstance(v, bool),
              "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool)}
    if kind in checks and not checks[kind](value):
        return f"{name}: expected {kind}, got {type(value).__name__}"
    allowed = enum_values(spec)
    if allowed is not None and value not in allowed:
        return f"{name}: {value!r} is not one of {allowed}"
    return None


def with_defaults(schema: dict[str, Any], content: dict[str, Any]) -> dict[str, Any]:
    """SEP-1034: a field the user left out takes the schema's ``default``, if it has one."""
    defaults = {name: spec["default"] for name, spec in (schema.get("properties") or {}).items()
                if isinstance(spec, dict) and "default" in spec}
    return {**defaults, **content}


def check_content(schema: dict[str, Any], content: dict[str, Any]) -> list[str]:
    """What is wrong with ``content`` for ``requestedSchema`` (empty: it fits)."""
    properties = schema.get("properties") or {}
    problems = [f"{name}: required" for name in schema.get("required", []) if name not in content]
    for name, value in content.items():
        spec = properties.get(name)
        problem = f"{name}: not in the schema" if spec is None else _problem(name, spec, value)
        if problem:
            problems.append(problem)
    return problems


async def answer_inputs(answer: Callable[[Request], Awaitable[Response | ErrorResponse]],
                        requests: dict[str, Any]) -> dict[str, Any]:
    """2026-07-28 ``inputRequests`` -> ``inputResponses``: each embedded request answered as if the
    server had sent it (same Answerer), under the same key.  A refusal (an error) is raised: the host
    then does not retry, which is how MRTR says no (the server must not count on a retry)."""
    answers: dict[str, Any] = {}
    for key, embedded in requests.items():
        if not isinstance(embedded, dict) or not isinstance(embedded.get("method"), str):
            raise ValueError(f"inputRequests[{key!r}] is not a request")
        reply = await answer(Request(key, embedded["method"], embedded.get("params") or {}))
        if isinstance(reply, ErrorResponse):
            raise RefusedInput(embedded["method"], reply.error.message)
        answers[key] = reply.result
    return answers


class RefusedInput(Exception):
    """The user (or the host) would not answer an input request: the original request is dropped."""

    def __init__(self, method: str, why: str) -> None:
        super().__init__(f"{method} refused: {why}; the request is not retried")
        self.method = method


class Answerer:
    """Answers a server's requests: sampling via ``confirm`` then ``generate``; elicitation from a script."""

    def __init__(self, generate: Generate, confirm: Callable[[str], bool],
                 script: Iterable[tuple[str, dict[str, Any] | None]] = ()) -> None:
        self.generate, self.confirm = generate, confirm
        self.script = iter(script)  # ("accept", content) | ("decline", None) | ("cancel", None)
        self.problems: list[str] = []  # why scripted content was not sent, for the trace and tests

    async def answer(self, request: Request) -> Response | ErrorResponse:
        if request.method == "sampling/createMessage":
            return await self.sample(request)
        if request.method == "elicitation/create":
            return self.elicit(request)
        return answer_server_request(request)

    async def sample(self, request: Request) -> Response | ErrorResponse:
        messages = request.params.get("messages") or []
        shown = " / ".join(str((m.get("content") or {}).get("text", "")) for m in messages)
        if not self.confirm(f"the server asks the model: {shown!r}"):
            return jsonrpc.error_response(request.id, USER_REJECTED, "User rejected sampling request")
        text = await self.generate(messages, int(request.params.get("maxTokens") or 100))
        return Response(request.id, {"role": "assistant", "content": {"type": "text", "text": text},
                                     "model": "wirelab-host", "stopReason": "endTurn"})

    def elicit(self, request: Request) -> Response:
        schema = request.params.get("requestedSchema") or {}
        action, content = next(self.script, ("cancel", None))  # no answer left: the user walked away
        if action != "accept":
            return Response(request.id, {"action": action})
        filled = with_defaults(schema, content or {})
        problems = check_content(schema, filled)
        if problems:
            self.problems += problems
            return Response(request.id, {"action": "cancel"})  # never send what the schema forbids
        return Response(request.id, {"action": "accept", "content": filled})
