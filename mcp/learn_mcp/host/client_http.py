"""The Streamable HTTP transport, host side: one POST per message, a JSON or SSE answer.

Reading order: client_session -> client_stdio -> **client_http** -> client -> agent.

2026-07-28 "Streamable HTTP" (and 2025-11-25 "Transports" for the legacy shape):

- every JSON-RPC message is its own ``POST`` to the one MCP endpoint, with
  ``Accept: application/json, text/event-stream``;
- the server answers a request with a single JSON object, or with an SSE stream that
  carries the notifications *about that request* (progress, log lines) and ends with its
  response; a notification gets ``202 Accepted`` and no body;
- **modern** requests mirror the body into headers, so a load balancer can route
  without parsing JSON: ``MCP-Protocol-Version``, ``Mcp-Method``, ``Mcp-Name`` (the tool,
  prompt or resource), and ``Mcp-Param-{X}`` for tool arguments whose schema says
  ``"x-mcp-header": "X"``.  There is no session.  Closing the SSE stream *is* the
  cancellation;
- **legacy** (2025-11-25): ``initialize`` may return an ``Mcp-Session-Id`` header that
  every later POST repeats, with ``MCP-Protocol-Version``; cancellation is an explicit
  ``notifications/cancelled`` POST (a dropped stream is not a cancel there); ``DELETE``
  ends the session.  ``listen()`` opens the session's ``GET`` stream, where the server
  sends what belongs to no POST (``notifications/resources/updated``, and its own
  requests when no POST stream is open); when that connection breaks it is resumed with
  ``Last-Event-ID``, so nothing sent meanwhile is lost.  A POST's stream that ends
  before its response (the server closed it mid-call: SSE polling, SEP-1699) is
  resumed the same way, after the ``retry:`` the server named.

The header rules and the SSE parsing are pure functions at the top; the
:class:`HttpTransport` below them does the I/O with httpx.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from wirelab_common.wiretrace import Trace

from .. import jsonrpc
from ..jsonrpc import ErrorResponse, Message, Notification, Request, Response, correlation_id
from ..summary import describe
from .client_session import (
    META_VERSION,
    ProtocolError,
    Reply,
    cancelled_notification,
    classify,
    default_answer,
)

OnNotification = Callable[[Notification], None]
ACCEPT = "application/json, text/event-stream"
NAMED_METHODS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
TRANSPORT_ERROR = -32000  # implementation-defined: an HTTP failure with no JSON-RPC body
RECONNECTS = 20  # how many failed GETs in a row before the host gives up on the stream
RECONNECT_PAUSE = 0.5  # seconds between GET attempts (a POST's stream is resumed after its retry:)


# -- pure: the request headers ---------------------------------------------------------------


def header_value(value: str | int | bool) -> str:
    """A value as an HTTP header may carry it (2026-07-28 Streamable HTTP, "Value Encoding").

    Plain visible ASCII goes as is; anything else (non-ASCII, control characters,
    spaces at either end, or text that looks like the sentinel) is base64 in
    ``=?base64?...?=``, so no argument can inject a header line.
    """
    text = str(value).lower() if isinstance(value, bool) else str(value)
    plain = (all(0x20 <= ord(c) <= 0x7E or c == "\t" for c in text) and text == text.strip()
             and not (text.startswith("=?base64?") and text.endswith("?=")))
    return text if plain else f"=?base64?{base64.b64encode(text.encode()).decode()}?="


def param_headers(schema: dict[str, Any] | None, arguments: dict[str, Any]) -> dict[str, str]:
    """``Mcp-Param-{X}`` for each top-level argument whose schema property says ``x-mcp-header: X``.

    (Nested properties may carry the annotation too; this host handles the top level only.)
    """
    headers = {}
    for prop, spec in ((schema or {}).get("properties") or {}).items():
        name = spec.get("x-mcp-header") if isinstance(spec, dict) else None
        value = arguments.get(prop)
        if name and value is not None and isinstance(value, str | int | bool):
            headers[f"Mcp-Param-{name}"] = header_value(value)
    return headers


def request_headers(message: Request | Notification, *, legacy_version: str | None = None,
                    session_id: str | None = None, tool_schema: dict[str, Any] | None = None,
                    ) -> dict[str, str]:
    """Every header of one POST, by the rules of the message's era."""
    headers = {"Accept": ACCEPT, "Content-Type": "application/json"}
    modern_version = (message.params.get("_meta") or {}).get(META_VERSION)
    if modern_version:
        headers["MCP-Protocol-Version"] = modern_version
        headers["Mcp-Method"] = message.method
        field = NAMED_METHODS.get(message.method)
        if field and field in message.params:
            headers["Mcp-Name"] = header_value(message.params[field])
        if message.method == "tools/call":
            headers.update(param_headers(tool_schema, message.params.get("arguments") or {}))
    else:
        if legacy_version:  # every request after initialize (2025-11-25 "Protocol Version Header")
            headers["MCP-Protocol-Version"] = legacy_version
        if session_id:
            headers["Mcp-Session-Id"] = session_id
    return headers


# -- pure: Server-Sent Events -----------------------------------------------------------------


class SseParser:
    """Feed SSE lines, get the ``data`` of each finished event (WHATWG HTML "Server-sent events").

    Comments (``:``) and the ``event`` field are ignored: MCP only needs the data, one
    JSON-RPC message per event, the ``id`` (kept in ``last_id``, as a browser keeps its
    "last event ID", for resuming) and ``retry`` (``retry_ms``: when to come back).  A
    blank line ends an event.
    """

    def __init__(self) -> None:
        self._data: list[str] = []
        self.last_id: str | None = None
        self.retry_ms: int | None = None

    def reconnected(self) -> None:
        """A new connection: an event the old one cut off is dropped; last id and retry stay."""
        self._data = []

    def feed(self, line: str) -> str | None:
        if line == "":
            event, self._data = ("\n".join(self._data) if self._data else None), []
            return event
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            self._data.append(value)
        elif field == "id" and "\0" not in value:
            self.last_id = value
        elif field == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None


# -- the driver -------------------------------------------------------------------------------------


class HttpTransport:
    """POSTs to one MCP endpoint with httpx; knows the session id and the tool schemas."""

    def __init__(self, url: str, trace: Trace, token: str | None = None, timeout: float = 30.0,
                 http: httpx.AsyncClient | None = None) -> None:
        self.url = url
        self.trace = trace
        self.label = url
        self.peer = "server"  # the server's own name in the trace events (McpClient sets it)
        # ``http``: tests pass a client on httpx.MockTransport to play a server in memory.
        self.http = http or httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=5.0))
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"
        self.legacy_version: str | None = None  # set once a legacy session is open
        self.session_id: str | None = None
        self.tool_schemas: dict[str, dict[str, Any]] = {}  # for Mcp-Param-* headers
        self.on_log: OnNotification = lambda n: None
        self.answer = default_answer  # how we answer the server's requests (McpClient may set one)
        self._listener: asyncio.Task[None] | None = None  # the GET stream's reader, once listen() ran
        self.last_event_id: str | None = None  # the GET stream's, for resuming it

    def _headers(self, message: Request | Notification) -> dict[str, str]:
        schema = self.tool_schemas.get(message.params.get("name", ""))
        return request_headers(message, legacy_version=self.legacy_version, session_id=self.session_id,
                               tool_schema=schema)

    def _session_headers(self) -> dict[str, str]:
        """The legacy headers alone: for a POSTed response and for the closing DELETE."""
        headers = {"Accept": ACCEPT, "Content-Type": "application/json"}
        if self.legacy_version:
            headers["MCP-Protocol-Version"] = self.legacy_version
        if self.session_id:
            headers["Mcp-Session-Id"] = self.session_id
        return headers

    def _trace_post(self, message: Message, headers: dict[str, str], body: bytes) -> None:
        shown = [f"{k}: {v}" for k, v in headers.items() if k.lower().startswith("mcp")]
        self.trace.sent(f"POST {describe(message)}", [*shown, body.decode()], peer=self.peer,
                        cid=correlation_id(message))

    async def request(self, message: Request, on_notification: OnNotification | None = None) -> Reply:
        """POST one request; read a JSON or SSE answer.  Cancelling this coroutine cancels it."""
        headers = self._headers(message)
        body = jsonrpc.serialize(message)
        self._trace_post(message, headers, body)
        async with self.http.stream("POST", self.url, content=body, headers=headers) as response:
            try:
                reply = await self._read_answer(message, response, on_notification)
            except asyncio.CancelledError:
                if self.legacy_version:
                    # 2025-11-25: a dropped stream is not a cancel; say it explicitly.
                    note = cancelled_notification(message.id, "cancelled by the host")
                    await asyncio.shield(self.notify(note))
                else:
                    self.trace.state(f"#{message.id}: closing its response stream (the modern cancel)")
                raise
        # (Leaving the block early closes the connection: the body was not read to the end.)
        if message.method == "initialize" and isinstance(reply, Response):
            self.legacy_version = reply.result.get("protocolVersion")  # on every later POST
        return reply

    async def _read_answer(self, message: Request, response: httpx.Response,
                           on_notification: OnNotification | None) -> Reply:
        kind = response.headers.get("content-type", "").split(";")[0].strip()
        if message.method == "initialize" and response.headers.get("mcp-session-id"):
            self.session_id = response.headers["mcp-session-id"]
            self.trace.state(f"session id {self.session_id} (Mcp-Session-Id)")
        if kind == "text/event-stream" and response.status_code == 200:
            self.trace.received(f"{response.status_code} text/event-stream for #{message.id}", peer=self.peer)
            parser = SseParser()
            async for incoming in self._events(response, about=message.id, parser=parser):
                if isinstance(incoming, Response | ErrorResponse) and incoming.id == message.id:
                    return incoming
                await self._other(incoming, on_notification)
            return await self._resume(message, parser, on_notification)
        raw = await response.aread()
        try:
            incoming = classify(json.loads(raw))
        except (ValueError, ProtocolError):
            # An HTTP error with no JSON-RPC body (a legacy server refusing a modern probe,
            # a proxy, a 401): a synthetic error, so the session can judge it like any other.
            text = raw.decode("utf-8", "replace")[:200]
            self.trace.received(f"{response.status_code} {kind or '(no body)'} {text!r}", peer=self.peer)
            return jsonrpc.error_response(message.id, TRANSPORT_ERROR, f"HTTP {response.status_code}: {text}")
        self.trace.received(f"{response.status_code} {describe(incoming)}", [raw.decode()], peer=self.peer,
                            cid=correlation_id(incoming))
        if not isinstance(incoming, Response | ErrorResponse):
            raise ProtocolError(f"expected a response to #{message.id}, got {incoming}")
        return incoming

    async def _resume(self, message: Request, parser: SseParser,
                      on_notification: OnNotification | None) -> Reply:
        """The POST's stream ended before its response: the server may close it mid-call once it
        sent an event id (2025-11-25, SEP-1699).  GET it back with ``Last-Event-ID`` after the
        ``retry:`` it named, as often as it ends early, at most RECONNECTS times."""
        for _ in range(RECONNECTS):
            if parser.last_id is None or not self.session_id:
                break  # nothing to resume from: a modern stream, or a server that sent no id
            await asyncio.sleep(parser.retry_ms / 1000 if parser.retry_ms is not None else RECONNECT_PAUSE)
            headers = {k: v for k, v in self._session_headers().items() if k != "Content-Type"}
            headers.update({"Accept": "text/event-stream", "Last-Event-ID": parser.last_id})
            async with self.http.stream("GET", self.url, headers=headers) as response:
                self.trace.received(f"{response.status_code} GET: #{message.id}'s stream resumed after "
                                    f"{parser.last_id}", peer=self.peer, cid=str(message.id))
                if response.status_code != 200:
                    raise ConnectionError(f"the SSE stream for #{message.id} ended without a response and "
                                          f"the server refused to resume it ({response.status_code})")
                parser.reconnected()
                async for incoming in self._events(response, "resumed", message.id, parser):
                    if isinstance(incoming, Response | ErrorResponse) and incoming.id == message.id:
                        return incoming
                    await self._other(incoming, on_notification)
        raise ConnectionError(f"the SSE stream for #{message.id} ended without a response")

    async def listen(self) -> None:
        """Open the session's GET stream (2025-11-25 "Listening for Messages from the Server").

        Returns once the server accepted it; a task reads it from then on.  Legacy only:
        2026-07-28 has no GET stream.
        """
        if self._listener is not None and not self._listener.done():
            return
        if not self.session_id:
            raise ProtocolError("the GET stream needs a 2025-11-25 session (Mcp-Session-Id)")
        opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._listener = asyncio.create_task(self._listen(opened))
        await asyncio.wait_for(opened, 10)

    async def _listen(self, opened: asyncio.Future[None]) -> None:
        failures = 0  # in a row; a stream the server ended on purpose (SSE polling) is not one
        while failures < RECONNECTS:
            headers = {k: v for k, v in self._session_headers().items() if k != "Content-Type"}
            headers["Accept"] = "text/event-stream"
            if self.last_event_id:
                headers["Last-Event-ID"] = self.last_event_id
            try:
                async with self.http.stream("GET", self.url, headers=headers,
                                            timeout=httpx.Timeout(None, connect=5.0)) as response:
                    resumed = f" (resumed after {self.last_event_id})" if self.last_event_id else ""
                    self.trace.received(f"{response.status_code} GET stream{resumed}",
                                        [f"{k}: {v}" for k, v in headers.items() if k.lower() != "accept"],
                                        peer=self.peer)
                    if response.status_code != 200:
                        if not opened.done():
                            opened.set_exception(ProtocolError(f"GET stream refused: {response.status_code}"))
                        return  # 404: the session is gone; 405: the server has no GET stream
                    if not opened.done():
                        opened.set_result(None)
                    async for incoming in self._events(response, stream="GET"):
                        await self._other(incoming, None)
                    failures = 0
            except httpx.HTTPError as exc:
                failures += 1
                self.trace.state(f"GET stream broke ({type(exc).__name__}): resuming")
            if not opened.done():
                opened.set_exception(ProtocolError("the GET stream could not be opened"))
                return
            await asyncio.sleep(RECONNECT_PAUSE)
        self.trace.state(f"GET stream: given up after {RECONNECTS} attempts")

    async def _events(self, response: httpx.Response, stream: str = "", about: int | str | None = None,
                      parser: SseParser | None = None) -> AsyncIterator[Message]:
        """The messages of an SSE stream; ``about``: the POST's request id (notifications' ``cid``);
        ``parser``: the caller's, to read its last id and retry afterwards."""
        parser = parser or SseParser()
        async for line in response.aiter_lines():
            data = parser.feed(line)
            if data is not None and stream == "GET":
                self.last_event_id = parser.last_id  # a whole event arrived: resume after it
            if not data:
                # None: the event is not complete yet.  "": an event with an empty data
                # field, which a 2025-11-25 server sends first to prime a reconnection.
                continue
            incoming = classify(json.loads(data))
            cid = correlation_id(incoming) or (None if about is None else str(about))
            self.trace.received(f"SSE {stream + ' ' if stream else ''}{describe(incoming)}", [data],
                                peer=self.peer, cid=cid)
            yield incoming

    async def _other(self, incoming: Message, on_notification: OnNotification | None) -> None:
        if isinstance(incoming, Request):
            # Legacy servers may ask us things (ping, sampling, elicitation) on a response
            # stream; we answer by POST, while this stream waits for the tool's result.
            answer = await self.answer(incoming)
            body = jsonrpc.serialize(answer)
            headers = self._session_headers()
            self.trace.sent(f"POST {describe(answer)}", [body.decode()], peer=self.peer,
                            cid=correlation_id(answer))
            await self.http.post(self.url, content=body, headers=headers)
        elif isinstance(incoming, Notification):
            (on_notification or self.on_log)(incoming)

    async def notify(self, message: Notification) -> None:
        headers = self._headers(message)
        body = jsonrpc.serialize(message)
        self._trace_post(message, headers, body)
        response = await self.http.post(self.url, content=body, headers=headers)
        self.trace.received(f"{response.status_code} for {message.method}", peer=self.peer)
        if response.status_code != 202:
            raise ProtocolError(f"{message.method}: expected 202 Accepted, got {response.status_code}")

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self.session_id:
            # 2025-11-25: DELETE ends the session; 405 means the server does not allow that.
            headers = self._session_headers()
            try:
                response = await self.http.delete(self.url, headers=headers)
                self.trace.state(f"DELETE session {self.session_id}: {response.status_code}")
            except httpx.HTTPError as exc:
                self.trace.state(f"DELETE session failed: {exc}")
        await self.http.aclose()
