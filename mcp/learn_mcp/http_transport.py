"""Streamable HTTP: one endpoint, ``/mcp``, for both revisions (the asyncio driver for HTTP).

Reading order: ... -> server_core -> stdio_transport / sessions + http_headers +
**http_transport** -> server.

Every request goes down the same ladder; the first rung that fails answers:

1. ``Origin`` (and, on a loopback bind, ``Host``) must be ours: 403 / 421.
   This is the DNS-rebinding defence both revisions make a MUST.
2. With ``--token``: ``Authorization: Bearer <token>`` or 401 with
   ``WWW-Authenticate: Bearer``.
3. The method: POST carries messages; GET opens a legacy session's stream (http_get.py);
   DELETE ends a legacy session.
4. For POST: ``Accept`` must allow JSON or SSE (406), the body must be one
   JSON-RPC message (400 with -32700 / -32600; arrays are refused).
5. The era, decided per request:

   - an ``initialize`` request starts a **legacy session** (2025-11-25
     basic/transports §Session Management): the answer carries
     ``Mcp-Session-Id``, later requests must repeat it (400 without it, 404
     for an unknown or ended one) and send a supported ``MCP-Protocol-Version``
     (400 otherwise).  Errors travel as JSON-RPC errors in a 200.
   - a request whose ``_meta`` or ``MCP-Protocol-Version`` names 2026-07-28 is
     **modern** (2026-07-28 transports/streamable-http): no session; the
     ``MCP-Protocol-Version``, ``Mcp-Method`` and ``Mcp-Name`` headers must
     match the body (400, -32020 HeaderMismatch; http_headers.py); errors get an HTTP status
     of their own (400, or 404 for -32601) so intermediaries can see them.

6. The answer is ``application/json`` unless the request may send
   messages first (progress or log messages; for a ``tools/call`` of a legacy
   client that declared sampling or elicitation, our own requests, whose answers
   come back as POSTs: outbox.py) or the client accepts only SSE; then it is an
   SSE stream: those messages, then the response, then the end of the stream.
   Changes announced to all (``resources/updated`` to subscribers,
   ``list_changed``), and our requests once the POST stream of the call that asks
   is closed, go on the legacy session's ``GET`` stream (http_get.py).  Legacy
   streams number their events and keep them in the session's log
   (sessions.py) so ``GET`` + ``Last-Event-ID`` resumes them; a closed legacy
   connection is *not* a cancellation (the client sends
   ``notifications/cancelled``).  The server may end a POST's connection itself
   in the middle of the call (a tool calls ``ctx.close_stream()``, or the call
   has run ``--sse-close-after`` seconds; SSE polling, SEP-1699): ``retry:``,
   then the end, and the rest of the call waits in that stream's log for the
   client's ``GET`` + ``Last-Event-ID``.  Modern streams have no ids, and closing
   one *is* the cancellation of its request.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import Response as HttpResponse
from starlette.routing import Route

from wirelab_common.asgi_server import read_body
from wirelab_common.wiretrace import Trace, shorten

from .http_get import JSON, SSE, GetStream
from .http_get import json_response as _json
from .http_get import refuse as _refuse
from .http_headers import check_headers
from .jsonrpc import (
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    ErrorResponse,
    JsonRpcError,
    Message,
    Notification,
    Request,
    RequestId,
    Response,
    correlation_id,
    error_response,
    parse,
    serialize,
)
from .lifecycle import (
    DEFAULT_HEADER_VERSION,
    LEGACY_VERSIONS,
    MODERN_VERSIONS,
    client_name,
    is_modern,
)
from .server_core import Call, ServerCore
from .sessions import Session, SessionStore
from .summary import describe

MAX_BODY = 1 << 20
# The HTTP status for an error code (modern requests; the SDK server uses the same table).
# -32603 is left out on purpose: the spec gives it no status, so it travels in a 200.
ERROR_STATUS = {-32700: 400, -32600: 400, -32602: 400, -32020: 400, -32021: 400, -32022: 400,
                METHOD_NOT_FOUND: 404}
RETRY_MS = 500  # when to come back after we ended a stream early, unless --sse-poll-ms says otherwise


@dataclass
class HttpSettings:
    token: str | None = None
    allow_origins: list[str] = field(default_factory=list)
    loopback: bool = True  # validate Host too (only meaningful when bound to a loopback address)
    port: int = 0  # filled in once listening: our own origins are http://127.0.0.1:<port> etc.
    poll_ms: int | None = None  # GET streams: send what is there, then close (http_get.py)
    close_after: float | None = None  # seconds into a call, end its POST's connection (legacy())

    @property
    def retry_ms(self) -> int:
        """The ``retry:`` we send when we end a connection before its stream is done."""
        return self.poll_ms if self.poll_ms is not None else RETRY_MS

    def own_hosts(self) -> set[str]:
        return {f"{name}:{self.port}" for name in ("127.0.0.1", "localhost", "[::1]")}


class McpHttpApp(GetStream):
    def __init__(self, core: ServerCore, settings: HttpSettings, trace: Trace, wire: Trace | None = None,
                 store: SessionStore | None = None) -> None:
        # trace: state changes (sessions, refusals); wire: every message, only with -v
        self.core, self.settings, self.trace, self.wire = core, settings, trace, wire
        self.store = store or SessionStore()
        self.modern_tasks: set[asyncio.Task] = set()
        self.app = Starlette(routes=[Route("/mcp", self.endpoint, methods=["GET", "POST", "DELETE"])])

    # --- the ladder --------------------------------------------------------------------------

    async def endpoint(self, http: HttpRequest) -> HttpResponse:
        refusal = self.check_origin_and_auth(http)
        if refusal is not None:
            return refusal
        if http.method == "POST":
            return await self.post(http)
        if http.method == "GET":
            return self.get(http)
        return self.delete(http)

    def check_origin_and_auth(self, http: HttpRequest) -> HttpResponse | None:
        settings = self.settings
        origin = http.headers.get("origin")
        allowed = {f"http://{host}" for host in settings.own_hosts()} | set(settings.allow_origins)
        if origin is not None and origin not in allowed:
            self.trace.state(f"403 foreign Origin {origin!r}")
            return _refuse(403, INVALID_REQUEST, f"Forbidden: Origin {origin} is not allowed")
        if settings.loopback and http.headers.get("host") not in settings.own_hosts():
            self.trace.state(f"421 foreign Host {http.headers.get('host')!r}")
            return _refuse(421, INVALID_REQUEST, "Misdirected Request: Host is not this server")
        # compare_digest: a plain != returns sooner the earlier the first wrong byte, which leaks the token
        sent = http.headers.get("authorization", "").encode()
        if settings.token is not None and not hmac.compare_digest(sent, f"Bearer {settings.token}".encode()):
            return _refuse(401, INVALID_REQUEST, "Unauthorized: send Authorization: Bearer <token>",
                           {"WWW-Authenticate": 'Bearer realm="mcp", error="invalid_token"'})
        return None

    async def post(self, http: HttpRequest) -> HttpResponse:
        """Rungs 4 and 5: what the client accepts, the one message, then its era."""
        accepts = self.accepted(http)
        if isinstance(accepts, HttpResponse):
            return accepts
        message = await self.read_message(http)
        if isinstance(message, HttpResponse):
            return message
        return await self.route(http, message, *accepts)

    def accepted(self, http: HttpRequest) -> tuple[bool, bool] | HttpResponse:
        """(takes JSON, takes SSE) from Accept; 406 / 415 when we cannot answer or read it."""
        accept = http.headers.get("accept", "*/*")
        takes_json = any(t in accept for t in (JSON, "application/*", "*/*"))
        takes_sse = any(t in accept for t in (SSE, "text/*", "*/*"))
        if not (takes_json or takes_sse):
            return _refuse(406, INVALID_REQUEST, f"Not Acceptable: Accept must allow {JSON} and {SSE}")
        if not http.headers.get("content-type", "").startswith(JSON):
            return _refuse(415, INVALID_REQUEST, f"Unsupported Media Type: send {JSON}")
        return takes_json, takes_sse

    async def read_message(self, http: HttpRequest) -> Message | HttpResponse:
        """The body as one JSON-RPC message; 413 when too large, 400 when not one message."""
        body = await read_body(http, MAX_BODY)
        if body is None:
            return _refuse(413, INVALID_REQUEST, f"Payload Too Large: at most {MAX_BODY} bytes")
        try:
            message = parse(body)
        except JsonRpcError as exc:
            if self.wire:  # no id could be read (cid None); the sender is known by its session, if any
                session = self.store.get(http.headers.get("mcp-session-id") or "")
                self.wire.received(shorten(body), [f"rejected: {exc.code} {exc.message}"],
                                   peer=client_name({}, session.lifecycle if session else None))
            return _json(exc.to_response(), 400)
        return message  # traced by route(), once it knows who sent it

    async def route(self, http: HttpRequest, message: Message, takes_json: bool,
                    takes_sse: bool) -> HttpResponse:
        """The era: initialize starts a session, a session id continues one, 2026-07-28 needs none."""
        session_id = http.headers.get("mcp-session-id")
        version_header = http.headers.get("mcp-protocol-version")
        if self.wire:
            known = self.store.get(session_id) if session_id else None
            self.wire.received(f"POST {describe(message)}", [shorten(serialize(message), 160)],
                               peer=self.peer_of(message, known), cid=correlation_id(message))
        if isinstance(message, Request) and message.method == "initialize":
            if session_id is not None:
                return _refuse(400, INVALID_REQUEST, "initialize starts a new session: send it without "
                               "Mcp-Session-Id")
            return await self.initialize(message)
        if session_id is not None and version_header not in MODERN_VERSIONS:
            session = self.store.get(session_id)
            if session is None:
                return _refuse(404, INVALID_REQUEST, "Not Found: no such session (ended or never existed); "
                               "initialize a new one")
            version = version_header or DEFAULT_HEADER_VERSION
            if version not in LEGACY_VERSIONS:
                return _refuse(400, INVALID_REQUEST, f"Bad Request: unsupported MCP-Protocol-Version "
                               f"{version}; supported: {', '.join(LEGACY_VERSIONS + MODERN_VERSIONS)}")
            return await self.legacy(session, message, takes_json, takes_sse)
        if version_header in MODERN_VERSIONS or (isinstance(message, Request) and is_modern(message.params)):
            return await self.modern(http, message, takes_json, takes_sse)
        return _json(error_response(message.id if isinstance(message, Request) else None, INVALID_REQUEST,
                                    "Bad Request: missing Mcp-Session-Id (send initialize first), "
                                    "or speak 2026-07-28 with params._meta and MCP-Protocol-Version"), 400)

    # --- legacy (2025-11-25): sessions ------------------------------------------------------

    async def initialize(self, request: Request) -> HttpResponse:
        session = self.store.create()
        response = await self.core.handle_request(request, session.lifecycle, self._drop)
        peer = client_name(request.params, None)
        if isinstance(response, ErrorResponse):
            self.store.end(session.id)
            return self.answer(response, 200, peer=peer)
        self.trace.state(f"session {session.id} created ({session.lifecycle.protocol_version})")
        return self.answer(response, 200, {"Mcp-Session-Id": session.id}, peer=peer)

    async def legacy(self, session: Session, message: Message, takes_json: bool,
                     takes_sse: bool) -> HttpResponse:
        peer = client_name({}, session.lifecycle)
        if isinstance(message, Notification):
            cancel = self.core.handle_notification(message, session.lifecycle)
            if cancel is not None and cancel in session.tasks:
                session.tasks[cancel].cancel()
                self.trace.state(f"request {cancel} cancelled")
            return _json(None, 202)
        if not isinstance(message, Request):  # a client's answer to our request (sampling, elicitation)
            if not session.outbox.resolve(message):  # type: ignore[arg-type]
                self.trace.state(f"answer to {message.id}: no request of ours is waiting for it")
            return _json(None, 202)
        try:
            call = self.core.prepare(message, session.lifecycle)
        except JsonRpcError as exc:
            return self.answer(exc.to_response(message.id), 200, peer=peer)
        if takes_json and not call.may_notify:
            return self.answer(await self.core.execute(call, self._drop, self.announce), 200, peer=peer)
        stream = session.new_stream()
        primed = (session.lifecycle.protocol_version or "") >= "2025-11-25"
        if primed:
            stream.append("")  # §Sending Messages 6: an event id before anything else primes resumption

        def close_stream() -> bool:
            """A tool ends this POST's connection now; the call goes on, its messages wait in the log."""
            if not primed or stream.closed:  # an older client has no id to come back with
                return False
            stream.pause()
            self.trace.state(f"stream {stream.id} closed mid-call by the server: the client resumes it "
                             f"with GET + Last-Event-ID after {self.settings.retry_ms} ms")
            return True

        # --sse-close-after: a long call does not hold its connection (proxies cut idle ones anyway)
        timer = None if self.settings.close_after is None else \
            asyncio.get_running_loop().call_later(self.settings.close_after, close_stream)

        async def send(note: Notification) -> None:
            if stream.closed:  # the call has returned (a tool's background work): the GET stream carries it
                self.send_on_get(session, note)
            else:
                stream.append(self.traced(note, peer, message.id, via="SSE ").decode())

        async def run() -> None:
            try:
                response = await self.core.execute(call, send, self.announce, session.outbox, close_stream)
                stream.append(self.traced(response, peer, via="SSE ").decode())
            except asyncio.CancelledError:
                self.trace.state(f"request {message.id} cancelled: no response will be sent")
            finally:
                stream.close()
                session.tasks.pop(message.id, None)
                if timer is not None:
                    timer.cancel()

        session.tasks[message.id] = asyncio.create_task(run())
        return self.event_stream(stream.follow(), stream)

    def delete(self, http: HttpRequest) -> HttpResponse:
        session_id = http.headers.get("mcp-session-id")
        if session_id is None:
            return _refuse(405, INVALID_REQUEST, "Method Not Allowed: DELETE needs a 2025-11-25 session",
                           {"Allow": "POST"})
        if not self.store.end(session_id):
            return _refuse(404, INVALID_REQUEST, "Not Found: no such session")
        self.trace.state(f"session {session_id} ended by DELETE")
        return HttpResponse(status_code=204)

    # --- modern (2026-07-28): stateless ------------------------------------------------------

    async def modern(self, http: HttpRequest, message: Message, takes_json: bool,
                     takes_sse: bool) -> HttpResponse:
        if not isinstance(message, Request):
            return _json(None, 202)  # 2026-07-28 defines no client notifications over HTTP
        peer = client_name(message.params, None)
        try:
            check_headers(http.headers, message)
            call = self.core.prepare(message, None)
        except JsonRpcError as exc:
            return self.answer(exc.to_response(message.id), ERROR_STATUS.get(exc.code, 400), peer=peer)
        if takes_json and not call.may_notify:
            response = await self.core.execute(call, self._drop, self.announce)
            failed = isinstance(response, ErrorResponse)
            status = ERROR_STATUS.get(response.error.code, 200) if failed else 200
            return self.answer(response, status, peer=peer)
        return self.event_stream(self.modern_stream(call))

    async def modern_stream(self, call: Call) -> AsyncIterator[tuple[str | None, str]]:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        peer = client_name(call.request.params, None)

        async def send(note: Notification) -> None:
            queue.put_nowait(self.traced(note, peer, call.request.id, via="SSE "))

        async def run() -> None:
            try:
                response = await self.core.execute(call, send, self.announce)
                queue.put_nowait(self.traced(response, peer, via="SSE "))
            finally:
                queue.put_nowait(None)

        task = asyncio.create_task(run())
        self.modern_tasks.add(task)
        task.add_done_callback(self.modern_tasks.discard)
        try:
            while (data := await queue.get()) is not None:
                yield None, data.decode()
        finally:
            if not task.done():  # the client closed the stream: that is the cancellation (§Cancellation)
                task.cancel()
                self.trace.state(f"request {call.request.id} cancelled: client closed the stream")

    # --- output --------------------------------------------------------------------------------

    @staticmethod
    async def _drop(note: Notification) -> None:
        """Where notifications go when the answer is plain JSON: nowhere (none are expected)."""

    def traced(self, message: Message, peer: str, about: RequestId | None = None, via: str = "") -> bytes:
        """Serialize and trace ``message``; ``about``: the request whose stream it goes on (its ``cid``);
        ``via``: "SSE " or "SSE GET " when it is an event (the host's trace words it the same way)."""
        data = serialize(message)
        if self.wire:
            cid = correlation_id(message) or (None if about is None else str(about))
            self.wire.sent(f"{via}{describe(message)}", [shorten(data, 160)], peer=peer, cid=cid)
        return data

    @staticmethod
    def peer_of(message: Message, session: Session | None) -> str:
        """The sender's clientInfo.name, for trace events: from _meta, initialize or its session."""
        params = message.params if isinstance(message, Request | Notification) else {}
        return client_name(params, session.lifecycle if session else None)

    def answer(self, message: Response | ErrorResponse, status: int,
               headers: dict | None = None, *, peer: str = "client") -> HttpResponse:
        return HttpResponse(self.traced(message, peer), status, headers, media_type=JSON)

    def event_stream(self, events: AsyncIterator[tuple[str | None, str]], stream: Any = None) -> HttpResponse:
        """An SSE response of ``events``.  When they end before ``stream`` (an EventStream) has sent its
        last event (a poll caught up, or a pause()), it closes with ``retry:`` (SEP-1699: come back then)."""
        async def encode() -> AsyncIterator[ServerSentEvent]:
            if stream is not None:
                stream.attached = True
            last = None
            try:
                async for event_id, data in events:
                    last = event_id
                    yield ServerSentEvent(data=data, id=event_id)
                final = stream.events[-1][0] if stream is not None and stream.events else None
                finished = stream is not None and stream.closed and last == final
                if stream is not None and not finished:  # ended early: say when to come back
                    yield ServerSentEvent(retry=self.settings.retry_ms)
            finally:
                if stream is not None:
                    stream.attached = False

        return EventSourceResponse(encode(), headers={"Cache-Control": "no-cache"})

    async def close(self) -> None:
        """Before shutdown: end every stream so open SSE responses finish."""
        self.store.end_all()
        for task in list(self.modern_tasks):
            task.cancel()
