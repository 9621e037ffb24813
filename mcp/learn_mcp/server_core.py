"""The server core: one JSON-RPC message in, one response (and maybe notifications) out.

Reading order: jsonrpc -> lifecycle -> notes / calculator / schema -> tools / resources /
prompts / completion -> **server_core** -> outbox -> stdio_transport / sessions + http_transport -> server.

Both transports hand every message to :class:`ServerCore`; neither knows what a
tool is.  The core does no I/O: notifications leave through the ``send`` and
``announce`` callables the driver passes in, and time passes through the
``sleep`` it was given (tests pass one that does not wait).

A request goes through two steps, so that the HTTP driver can choose a JSON or
an SSE response before any work starts:

1. :meth:`ServerCore.prepare` decides the era and the rules that apply
   (lifecycle.py): a modern request's ``_meta`` envelope is validated; a legacy
   request must fit the connection's handshake phase.  The result, a
   :class:`Call`, says whether the request may produce notifications.
2. :meth:`ServerCore.execute` dispatches on the method name and turns any
   :class:`JsonRpcError` into an error response.

What differs by era, all decided here:

=========================  =======================================  =========================
                           legacy (2025-11-25)                      modern (2026-07-28)
=========================  =======================================  =========================
version, capabilities      once, in ``initialize``                  in every request's _meta
``ping``, setLevel         yes                                      removed (-32601)
``resources/subscribe``    yes                                      removed (-32601): listen.py
log messages               after ``logging/setLevel``               when _meta has logLevel
resource not found         -32002                                   -32602
results carry              just the result                          + resultType, serverInfo,
                                                                    ttlMs/cacheScope on lists
a tool asks the client     a request on its stream (outbox.py)      input_required (mrtr.py)
=========================  =======================================  =========================
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from . import completion, mrtr, prompts, resources, tools
from .jsonrpc import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    ErrorResponse,
    JsonRpcError,
    Notification,
    Request,
    RequestId,
    Response,
)
from .lifecycle import (
    LOG_LEVELS,
    META_CLIENT_CAPABILITIES,
    META_SERVER_INFO,
    SUPPORTED_VERSIONS,
    Event,
    Lifecycle,
    Phase,
    is_modern,
    level_allows,
    read_envelope,
)
from .listen import Listeners
from .notes import NoteBook
from .outbox import Outbox

SERVER_INFO = {"name": "learn-mcp", "title": "wirelab notes server", "version": "0.1.0"}
INSTRUCTIONS = ("Notes and arithmetic. Use search_notes before delete_note; "
                "notes are also readable as resources notes://index and notes://{id}.")
# Removed from the modern revision (subscriptions/listen replaces resources/subscribe there).
LEGACY_ONLY = {"initialize", "ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe"}
CACHEABLE = {"server/discover": (3_600_000, "public"), "tools/list": (3_600_000, "public"),
             "prompts/list": (3_600_000, "public"), "resources/templates/list": (3_600_000, "public"),
             "resources/list": (0, "private"), "resources/read": (0, "private")}

Send = Callable[[Notification], Awaitable[None]]
ASKS = {"sampling/createMessage": "sampling", "elicitation/create": "elicitation"}  # method: capability
Sleep = Callable[[float], Awaitable[None]]
Handler = Callable[[dict[str, Any], "Call"], Awaitable[dict[str, Any]] | dict[str, Any]]


@dataclass(frozen=True)
class Call:
    """One request, classified: everything execute() needs besides the callbacks."""

    request: Request
    modern: bool
    version: str | None  # None: legacy request on a connection that has not initialized yet
    log_level: str | None
    progress_token: str | int | None
    lifecycle: Lifecycle | None  # the legacy connection/session state; None for modern requests

    @property
    def may_notify(self) -> bool:
        """Might this request send messages before its response? (HTTP: use SSE.)"""
        if self.request.method == "subscriptions/listen":
            return self.modern  # its response stream is the subscription (listen.py)
        return self.request.method == "tools/call" and (
            self.progress_token is not None or self.log_level is not None
            or (not self.modern and bool(self.client_can())))  # a modern client is asked by MRTR, no stream

    def client_can(self) -> set[str]:
        """What the client declared it can answer: sampling, elicitation (in initialize, or in _meta)."""
        if self.modern:
            meta = self.request.params.get("_meta") or {}
            declared = meta.get(META_CLIENT_CAPABILITIES) or {}
        else:
            declared = self.lifecycle.client_capabilities if self.lifecycle is not None else {}
        return {name for name in ("sampling", "elicitation") if isinstance(declared.get(name), dict)}


class _ToolContext:
    """The ToolContext of tools.py for one call: notifications go to this request's stream."""

    def __init__(self, core: ServerCore, call: Call, send: Send, announce: Send | None,
                 outbox: Outbox | None, close_stream: Callable[[], bool] | None = None) -> None:
        self.notes = core.notes
        self.sleep = core.sleep
        self._background = core.background
        self._call, self._send, self._announce, self._outbox = call, send, announce, outbox
        self._close_stream = close_stream
        self._listeners = core.listeners
        # A modern call asks by MRTR (mrtr.py), and only while it runs; background work has no round.
        self._round = mrtr.Round(call.request.method, call.request.params) if call.modern else None

    def close_stream(self) -> bool:
        """End the connection carrying this call's messages, not the call (legacy HTTP's resumable
        SSE streams only; elsewhere there is nothing to close and this says False)."""
        return self._close_stream() if self._close_stream is not None else False

    def can_ask(self, method: str) -> bool:
        reachable = self._round is not None or self._outbox is not None  # MRTR, or a channel for requests
        return reachable and ASKS[method] in self._call.client_can()

    def later(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` after this call has returned; what it sends goes where the driver's ``send``
        puts it then (HTTP: the GET stream, since the call's POST stream is closed)."""
        if self._round is not None:
            raise tools.ToolError("2026-07-28 asks only inside a request (input_required): "
                                  "no question can come after the call has returned")
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def ask(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Send ``sampling/createMessage`` or ``elicitation/create`` to the client, on this call's channel."""
        needed = ASKS[method]
        if not self.can_ask(method):
            raise tools.ToolError(f"this client cannot answer {method}: it did not declare "
                                  f"capabilities.{needed}")
        if self._round is not None:  # 2026-07-28: the answer came with this retry, or input_required
            return self._round.ask(method, params)
        try:
            return await self._outbox.ask(self._send, method, params)  # type: ignore[arg-type]
        except JsonRpcError as exc:
            raise tools.ToolError(f"the client refused {method}: {exc.message}") from None
        except TimeoutError:
            raise tools.ToolError(f"the client did not answer {method} in time") from None

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        if self._call.progress_token is None:
            return  # the client did not ask (basic/utilities/progress: the token is the opt-in)
        params: dict[str, Any] = {"progressToken": self._call.progress_token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message:
            params["message"] = message
        await self._send(Notification("notifications/progress", params))

    async def log(self, level: str, data: Any) -> None:
        if level_allows(self._call.log_level, level):
            await self._send(Notification("notifications/message",
                                          {"level": level, "logger": "notes", "data": data}))

    async def resources_changed(self, *updated: str) -> None:
        """The list changed, and so did the contents of ``updated``: tell whoever wants to know.

        The driver's ``announce`` reaches every legacy connection for which
        :meth:`ServerCore.wants` says yes, whichever client made the change.
        """
        changes = [Notification("notifications/resources/list_changed")]
        changes += [Notification("notifications/resources/updated", {"uri": uri}) for uri in updated]
        for note in changes:
            self._listeners.publish(note)  # 2026-07-28 clients' subscriptions/listen streams
            if self._announce is not None:
                await self._announce(note)  # 2025-11-25 sessions (wants())


class ServerCore:
    def __init__(self, sleep: Sleep, notes: NoteBook | None = None) -> None:
        self.sleep = sleep
        self.notes = notes if notes is not None else NoteBook()
        self.background: set[asyncio.Task[None]] = set()  # tools' work after their call (ToolContext.later)
        self.listeners = Listeners()  # open subscriptions/listen streams (2026-07-28)
        # tools/call runs apart from the table: it alone gets a ToolContext (progress, logs).
        self.call_tool: Callable[[dict[str, Any], tools.ToolContext], Awaitable[dict[str, Any]]] = \
            tools.call_tool
        self.methods: dict[str, Handler] = {
            "initialize": self.initialize,
            "ping": lambda params, call: {},
            "logging/setLevel": self.set_level,
            "server/discover": self.discover,
            "tools/list": lambda params, call: {"tools": [t.definition() for t in tools.TOOLS.values()]},
            "resources/list": lambda params, call: resources.list_resources(self.notes),
            "resources/templates/list": lambda params, call: resources.list_templates(),
            "resources/read": lambda params, call: resources.read_resource(self.notes, params, call.modern),
            "prompts/list": lambda params, call: prompts.list_prompts(),
            "prompts/get": lambda params, call: prompts.get_prompt(self.notes, params),
            "completion/complete": lambda params, call: completion.complete(self.notes, params),
            "resources/subscribe": self.subscribe,
            "resources/unsubscribe": self.unsubscribe,
        }

    # --- step 1: which era, which rules -------------------------------------------------------

    def prepare(self, request: Request, lifecycle: Lifecycle | None) -> Call:
        """Classify ``request`` and take its lifecycle step; raises JsonRpcError.

        Drivers call this in the order messages arrive (before starting a task), so
        the handshake table sees initialize, initialized and requests in that order.
        """
        meta = request.params.get("_meta")
        token = meta.get("progressToken") if isinstance(meta, dict) else None
        if token is not None and (isinstance(token, bool) or not isinstance(token, str | int)):
            raise JsonRpcError(INVALID_PARAMS, "_meta.progressToken must be a string or an integer")
        if request.method != "initialize" and (is_modern(request.params) or lifecycle is None):
            envelope = read_envelope(request.params)
            if request.method in LEGACY_ONLY:
                raise JsonRpcError(METHOD_NOT_FOUND, f"Method not found: {request.method} "
                                   "(removed in 2026-07-28)")
            return Call(request, True, envelope.protocol_version, envelope.log_level, token, None)
        if request.method == "server/discover":
            # Legacy clients never send it; a modern one must say which version it speaks.
            read_envelope(request.params)
        if lifecycle is None:
            raise JsonRpcError(INVALID_REQUEST, "initialize needs a connection or session to initialize")
        if request.method == "initialize":
            lifecycle.initialize(request.params)  # the transition happens here, in arrival order
        else:
            lifecycle.fire(Event.PING if request.method == "ping" else Event.REQUEST)  # may raise
        return Call(request, False, lifecycle.protocol_version, lifecycle.log_level, token, lifecycle)

    # --- step 2: run it ------------------------------------------------------------------------

    async def execute(self, call: Call, send: Send, announce: Send | None = None,
                      outbox: Outbox | None = None,
                      close_stream: Callable[[], bool] | None = None) -> Response | ErrorResponse:
        """Run ``call``; ``send`` reaches this request's channel, ``outbox`` (if any) waits for answers,
        ``close_stream`` (if any) ends the channel's connection early (ToolContext.close_stream)."""
        request = call.request
        try:
            if request.method == "tools/call":
                context = _ToolContext(self, call, send, announce, outbox, close_stream)
                try:
                    result = await self.call_tool(request.params, context)
                except mrtr.InputRequired as needed:  # not complete: the client answers and retries
                    assert context._round is not None
                    return Response(request.id, {**context._round.result(needed),
                                                 "_meta": {META_SERVER_INFO: SERVER_INFO}})
            elif request.method == "subscriptions/listen" and call.modern:
                result = await self.listeners.serve(request.id, request.params, send)
            else:
                handler = self.methods.get(request.method)
                if handler is None:
                    raise JsonRpcError(METHOD_NOT_FOUND, f"Method not found: {request.method}")
                result = handler(request.params, call)
                if not isinstance(result, dict):
                    result = await result
        except JsonRpcError as exc:
            return exc.to_response(request.id)
        except Exception as exc:  # a bug in a handler: answer -32603 instead of dropping the request
            return ErrorResponse(request.id, JsonRpcError(INTERNAL_ERROR, f"Internal error: {exc!r}")
                                 .to_response().error)
        return Response(request.id, self.decorate(call, result))

    async def handle_request(self, request: Request, lifecycle: Lifecycle | None, send: Send,
                             announce: Send | None = None) -> Response | ErrorResponse:
        """prepare + execute, for drivers that need no decision in between (stdio)."""
        try:
            call = self.prepare(request, lifecycle)
        except JsonRpcError as exc:
            return exc.to_response(request.id)
        return await self.execute(call, send, announce)

    def handle_notification(self, note: Notification, lifecycle: Lifecycle | None) -> RequestId | None:
        """Apply a client notification; returns the id of a request to cancel, if any."""
        if note.method == "notifications/initialized" and lifecycle is not None:
            try:
                lifecycle.fire(Event.INITIALIZED)
            except JsonRpcError:
                pass  # a notification cannot be answered, not even with an error
        elif note.method == "notifications/cancelled":
            request_id = note.params.get("requestId")
            if isinstance(request_id, str | int) and not isinstance(request_id, bool):
                return request_id
        return None

    @staticmethod
    def wants(lifecycle: Lifecycle, note: Notification) -> bool:
        """Does this connection get ``note``, a change announced to all (resources_changed)?

        Only initialized legacy connections (modern clients hear changes on their
        subscriptions/listen streams: listen.py); ``resources/updated`` only where subscribed.
        """
        if lifecycle.phase is not Phase.OPERATING:
            return False
        if note.method == "notifications/resources/updated":
            return note.params.get("uri") in lifecycle.subscriptions
        return True

    def decorate(self, call: Call, result: dict[str, Any]) -> dict[str, Any]:
        """Modern results say they are complete and who answered (2026-07-28 changelog 2, 8, minor 5)."""
        if not call.modern:
            return result
        ttl = CACHEABLE.get(call.request.method)
        extra: dict[str, Any] = {"resultType": "complete"}
        if ttl is not None:
            extra.update(ttlMs=ttl[0], cacheScope=ttl[1])
        meta = dict(result.get("_meta") or {}, **{META_SERVER_INFO: SERVER_INFO})
        return {**result, **extra, "_meta": meta}

    # --- the handshake-era and discovery methods -------------------------------------------------

    def capabilities(self, modern: bool) -> dict[str, Any]:
        if modern:  # changes reach subscriptions/listen streams; only the resources ever change
            return {"tools": {}, "resources": {"subscribe": True, "listChanged": True}, "prompts": {},
                    "logging": {}, "completions": {}}
        return {"tools": {"listChanged": False}, "resources": {"subscribe": True, "listChanged": True},
                "prompts": {"listChanged": False}, "logging": {}, "completions": {}}

    def initialize(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        # prepare() already ran the handshake step (lifecycle.initialize) and negotiated the version.
        return {"protocolVersion": call.version, "capabilities": self.capabilities(False),
                "serverInfo": SERVER_INFO, "instructions": INSTRUCTIONS}

    def discover(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        return {"supportedVersions": list(SUPPORTED_VERSIONS), "capabilities": self.capabilities(True),
                "instructions": INSTRUCTIONS}

    def set_level(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        level = params.get("level")
        if level not in LOG_LEVELS:
            raise JsonRpcError(INVALID_PARAMS, f"unknown log level {level!r}; one of {', '.join(LOG_LEVELS)}")
        assert call.lifecycle is not None
        call.lifecycle.log_level = level
        return {}

    # --- resource subscriptions (legacy only: the connection's Lifecycle holds them) ---------------

    async def subscribe(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        uri = params.get("uri")
        if not isinstance(uri, str):
            raise JsonRpcError(INVALID_PARAMS, "resources/subscribe needs params.uri (a string)")
        readable = self.methods["resources/read"]({"uri": uri}, call)  # -32002 if there is no such resource
        if not isinstance(readable, dict):
            await readable
        assert call.lifecycle is not None
        call.lifecycle.subscriptions.add(uri)
        return {}

    def unsubscribe(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        if not isinstance(params.get("uri"), str):
            raise JsonRpcError(INVALID_PARAMS, "resources/unsubscribe needs params.uri (a string)")
        assert call.lifecycle is not None
        call.lifecycle.subscriptions.discard(params["uri"])  # not subscribed: nothing to undo, no error
        return {}
