"""The host's side of an MCP connection, without I/O: which revision, which messages, in which order.

Reading order: after the server side (``jsonrpc`` -> ``lifecycle`` -> server); then
**client_session** -> ``client_stdio`` / ``client_http`` -> ``client`` -> ``guards`` ->
``planner`` -> ``agent`` -> ``demo``.

A host that wants to talk to every server in use today has to speak two eras of MCP
(2026-07-28 "Versioning and Compatibility"):

- **modern** (2026-07-28): no handshake.  Every request carries the protocol version,
  the client's identity and its capabilities in ``params._meta``; ``server/discover``
  tells the client which versions the server speaks.
- **legacy** (2025-11-25 and earlier): an ``initialize`` request, its result, then the
  ``notifications/initialized`` notification, after which the session is open
  (2025-11-25 "Lifecycle").

The negotiation is the same on every transport (2026-07-28 stdio "Backward
Compatibility"): probe with ``server/discover`` at the newest version; a
``DiscoverResult`` means modern; ``UnsupportedProtocolVersionError`` (-32022) means
modern, but pick from its ``supported`` list; *any other* error, or silence, means
legacy: fall back to ``initialize``.  The transports only differ in how a failure looks
(an HTTP 400 with a body that is not a modern error is "any other error").

:class:`ClientSession` is that decision as a small state machine, ``NEGOTIATION``::

    NEW          --probe-->       DISCOVERING
    NEW          --initialize-->  INITIALIZING
    NEW          --close-->       CLOSED
    DISCOVERING  --modern-->      READY
    DISCOVERING  --retry-->       DISCOVERING
    DISCOVERING  --fall back-->   INITIALIZING
    DISCOVERING  --close-->       CLOSED
    INITIALIZING --initialized--> READY
    INITIALIZING --close-->       CLOSED
    READY        --request-->     READY
    READY        --close-->       CLOSED

plus the builders for the messages a host sends.  A step out of order (a request
before READY, a second ``initialize``) is the host's own mistake, not the server's,
so it raises ``BadTransition`` naming the phase and what it expected; nothing of it
reaches the wire.  The messages are the
``jsonrpc`` module's types, the same ones the server parses and builds.  Ids come from
an injected counter, so tests can assert exact messages.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from wirelab_common.state_table import StateTable

from .. import jsonrpc
from ..jsonrpc import (
    HEADER_MISMATCH,
    METHOD_NOT_FOUND,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    UNSUPPORTED_PROTOCOL_VERSION,
    ErrorResponse,
    Message,
    Notification,
    Request,
    Response,
)

MODERN = "2026-07-28"
LEGACY = "2025-11-25"
MODERN_VERSIONS = (MODERN,)
SUPPORTED_VERSIONS = (MODERN, LEGACY)  # newest first: we offer the first one the server also speaks

# The _meta keys of a modern request (2026-07-28 "Base Protocol", _meta).
META_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CLIENT_INFO = "io.modelcontextprotocol/clientInfo"
META_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_LOG_LEVEL = "io.modelcontextprotocol/logLevel"
META_SERVER_INFO = "io.modelcontextprotocol/serverInfo"

MODERN_ERRORS = frozenset({HEADER_MISMATCH, MISSING_REQUIRED_CLIENT_CAPABILITY, UNSUPPORTED_PROTOCOL_VERSION})


class ProtocolError(Exception):
    """The server sent something a correct server cannot send."""


class VersionMismatch(ProtocolError):
    """The server speaks no revision we speak."""


class RemoteError(Exception):
    """A JSON-RPC error response to one of our requests, raised to the caller."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{code} {message}")
        self.code, self.message, self.data = code, message, data


Reply = Response | ErrorResponse


def classify(obj: Any) -> Message:
    """One decoded message from the server, as ``jsonrpc``'s types (ProtocolError if malformed)."""
    try:
        return jsonrpc.from_object(obj)
    except jsonrpc.JsonRpcError as exc:
        raise ProtocolError(str(exc)) from None


def result_of(reply: Reply) -> dict[str, Any]:
    """The result, or the error raised; a 2026-07-28 ``input_required`` result is refused here.

    Every 2026-07-28 result says ``resultType``; an older server's result lacks it and
    counts as ``"complete"`` (2026-07-28 changelog, item 8).
    """
    if isinstance(reply, ErrorResponse):
        raise RemoteError(reply.error.code, reply.error.message, reply.error.data)
    kind = reply.result.get("resultType", "complete")
    if kind != "complete":
        # input_required (multi round-trip requests) is answered by McpClient.request, and only
        # when the host has an Answerer; any other kind is unknown to this host.
        raise ProtocolError(f"resultType {kind!r} is not handled by this host")
    return reply.result


# -- the session: negotiation as a table ----------------------------------------------------


class Phase(Enum):
    NEW = "NEW"
    DISCOVERING = "DISCOVERING"  # server/discover sent: modern or legacy?
    INITIALIZING = "INITIALIZING"  # initialize sent (legacy handshake)
    READY = "READY"
    CLOSED = "CLOSED"


NEGOTIATION = StateTable("client session", {
    (Phase.NEW, "probe"): Phase.DISCOVERING,
    (Phase.NEW, "initialize"): Phase.INITIALIZING,
    (Phase.NEW, "close"): Phase.CLOSED,
    (Phase.DISCOVERING, "modern"): Phase.READY,
    (Phase.DISCOVERING, "retry"): Phase.DISCOVERING,
    (Phase.DISCOVERING, "fall back"): Phase.INITIALIZING,
    (Phase.DISCOVERING, "close"): Phase.CLOSED,
    (Phase.INITIALIZING, "initialized"): Phase.READY,
    (Phase.INITIALIZING, "close"): Phase.CLOSED,
    (Phase.READY, "request"): Phase.READY,
    (Phase.READY, "close"): Phase.CLOSED,
})


@dataclass
class ClientSession:
    """What the host knows about one server, and the messages it sends to it.

    ``versions`` are the revisions we are willing to speak, newest first; passing only
    ``(LEGACY,)`` skips the probe, only ``(MODERN,)`` never falls back.
    """

    client_info: dict[str, str] = field(default_factory=lambda: {"name": "wirelab-host", "version": "1.0"})
    versions: tuple[str, ...] = SUPPORTED_VERSIONS
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    log_level: str | None = None  # modern: asks for notifications/message per request
    phase: Phase = Phase.NEW
    version: str | None = None  # the revision in use once READY
    server_info: dict[str, Any] = field(default_factory=dict)
    capabilities: dict[str, Any] = field(default_factory=dict)
    # ours, declared in initialize: {"sampling": {}, "elicitation": {}} when we answer those (asking.py)
    client_capabilities: dict[str, Any] = field(default_factory=dict)
    instructions: str | None = None
    _probe_version: str | None = None

    @property
    def modern(self) -> bool:
        return self.version in MODERN_VERSIONS

    def _go(self, event: str) -> None:
        self.phase = NEGOTIATION.next(self.phase, event)  # BadTransition if out of order

    # -- opening ---------------------------------------------------------------------------

    def open(self) -> Request:
        """The first message: the ``server/discover`` probe, or ``initialize`` if legacy only."""
        modern = [v for v in self.versions if v in MODERN_VERSIONS]
        if modern:
            self._go("probe")
            self._probe_version = modern[0]
            return self._request("server/discover", {}, version=modern[0])
        self._go("initialize")
        return self._initialize_request()

    def on_discover(self, reply: Reply | None) -> Request | None:
        """Judge the probe's answer (None: no answer in time).  Returns the next request, if any."""
        if isinstance(reply, Response):
            offered = reply.result.get("supportedVersions") or []
            mutual = [v for v in self.versions if v in MODERN_VERSIONS and v in offered]
            if mutual:
                self._go("modern")
                self.version = mutual[0]
                self.capabilities = reply.result.get("capabilities") or {}
                self.server_info = (reply.result.get("_meta") or {}).get(META_SERVER_INFO) or {}
                self.instructions = reply.result.get("instructions")
                return None
            # It answers discover, but offers only handshake-era versions: a legacy advertisement.
        elif isinstance(reply, ErrorResponse) and reply.error.code == UNSUPPORTED_PROTOCOL_VERSION:
            data = reply.error.data if isinstance(reply.error.data, dict) else {}
            offered = data.get("supported") or []
            retry = [v for v in self.versions if v in MODERN_VERSIONS and v in offered]
            if retry and retry[0] != self._probe_version:
                self._go("retry")  # a modern server, at another modern version: ask again at that one
                self._probe_version = retry[0]
                return self._request("server/discover", {}, version=retry[0])
            if not any(v in offered for v in self.versions):
                raise VersionMismatch(f"the server speaks {offered}, we speak {list(self.versions)}")
        elif isinstance(reply, ErrorResponse) and reply.error.code in MODERN_ERRORS:
            # A modern server refused the request itself: fix the request, do not fall back.
            raise ProtocolError(f"the server rejected our probe: {reply.error.code} {reply.error.message}")
        if LEGACY not in self.versions:
            raise VersionMismatch(f"no modern answer to server/discover ({reply}) and legacy is disabled")
        self._go("fall back")
        return self._initialize_request()

    def _initialize_request(self) -> Request:
        legacy = [v for v in self.versions if v not in MODERN_VERSIONS]
        params = {"protocolVersion": legacy[0], "capabilities": self.client_capabilities,
                  "clientInfo": self.client_info}
        return Request(next(self.ids), "initialize", params)

    def on_initialize(self, reply: Reply) -> Notification:
        """Check the server's version; the answer is ``notifications/initialized``."""
        result = result_of(reply)
        chosen = result.get("protocolVersion")
        if chosen not in self.versions:
            # 2025-11-25 Lifecycle: the server may answer another version; if we do not
            # speak it, we SHOULD disconnect.
            raise VersionMismatch(f"server chose protocol {chosen!r}; we speak {list(self.versions)}")
        self._go("initialized")
        self.version = chosen
        self.capabilities = result.get("capabilities") or {}
        self.server_info = result.get("serverInfo") or {}
        self.instructions = result.get("instructions")
        return Notification("notifications/initialized")

    # -- operation ---------------------------------------------------------------------------

    def request(self, method: str, params: dict[str, Any] | None = None,
                progress_token: int | str | None = None) -> Request:
        """A request in the session's revision (modern: with the per-request ``_meta``)."""
        self._go("request")
        params = dict(params or {})
        if progress_token is not None:
            params["_meta"] = {**params.get("_meta", {}), "progressToken": progress_token}
        return self._request(method, params, version=self.version if self.modern else None)

    def _request(self, method: str, params: dict[str, Any], version: str | None) -> Request:
        if version is not None:
            meta = {META_VERSION: version, META_CLIENT_INFO: self.client_info,
                    META_CAPABILITIES: self.client_capabilities}  # what we answer in input_required
            if self.log_level:
                meta[META_LOG_LEVEL] = self.log_level
            params = {**params, "_meta": {**params.get("_meta", {}), **meta}}
        return Request(next(self.ids), method, params)

    def close(self) -> None:
        """Hang up, in any phase (closing twice is harmless)."""
        if self.phase is not Phase.CLOSED:
            self._go("close")


def cancelled_notification(request_id: int | str, reason: str) -> Notification:
    """Cancel a request on stdio, or on legacy HTTP (2026-07-28 "Cancellation")."""
    return Notification("notifications/cancelled", {"requestId": request_id, "reason": reason})


async def default_answer(request: Request) -> Response | ErrorResponse:
    """The transports' answer to a server's request unless the client sets another (asking.py)."""
    return answer_server_request(request)


def answer_server_request(request: Request) -> Response | ErrorResponse:
    """Our answer to a legacy server's request: ``ping`` gets ``{}``, the rest are unknown."""
    if request.method == "ping":
        return Response(request.id, {})
    return jsonrpc.error_response(request.id, METHOD_NOT_FOUND, f"this host does not offer {request.method}")


def progress_token_of(message: Request | Notification) -> int | str | None:
    """The token a request asks progress under, or a progress notification reports for."""
    if message.method == "notifications/progress":
        return message.params.get("progressToken")
    return (message.params.get("_meta") or {}).get("progressToken")
