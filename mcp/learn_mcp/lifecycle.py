"""Lifecycle: which protocol revision a message speaks, and the legacy handshake as a table.

Reading order: jsonrpc -> **lifecycle** -> notes / calculator / schema -> tools / resources /
prompts -> server_core -> transports -> server.

Everything that decides *whether a request may be served yet* lives in this file.

MCP has two eras, and this server speaks both (a "dual-era" server, 2026-07-28
basic/versioning §Backward Compatibility):

- **Legacy** (2025-11-25 and earlier; basic/lifecycle): a connection (stdio) or
  session (HTTP) starts with a handshake.  The client sends ``initialize`` with
  the version it wants; the server answers with that version if it supports it,
  otherwise with its own latest one (a counter-offer, not an error; the client
  hangs up if it cannot speak it).  The client then sends the
  ``notifications/initialized`` notification and normal operation begins.
  Only ``ping`` may come before ``initialize``.
- **Modern** (2026-07-28; basic/versioning, server/discover): no handshake.
  Every request carries its version and the client's capabilities in
  ``params._meta`` (``io.modelcontextprotocol/protocolVersion``,
  ``io.modelcontextprotocol/clientCapabilities``).  A version the server does
  not implement gets ``UnsupportedProtocolVersionError`` (-32022) with the
  supported list, and the client retries with one of those.  ``server/discover``
  tells a client the versions up front.

A request is modern when its ``_meta`` carries the protocol-version key;
otherwise it belongs to the connection's legacy handshake below.

The legacy handshake as a table (``LIFECYCLE``; every allowed (phase, event)
pair is listed, anything else is refused with an error naming both)::

    NEW          --INITIALIZE-->  INITIALIZING
    NEW          --PING-->        NEW
    NEW          --CLOSE-->       CLOSED
    INITIALIZING --INITIALIZED--> OPERATING
    INITIALIZING --PING-->        INITIALIZING
    INITIALIZING --REQUEST-->     INITIALIZING
    INITIALIZING --CLOSE-->       CLOSED
    OPERATING    --INITIALIZED--> OPERATING
    OPERATING    --PING-->        OPERATING
    OPERATING    --REQUEST-->     OPERATING
    OPERATING    --CLOSE-->       CLOSED

Requests are allowed in INITIALIZING, not just in OPERATING: the spec says the
client SHOULD wait for the initialize result (it has, once it knows the
version), and over HTTP the ``initialized`` notification and the next request
are separate POSTs that can overtake each other.

An event the table does not allow raises ``BadTransition`` (wirelab_common's one
name for "not allowed here"); :meth:`Lifecycle.fire` turns it into
:class:`LifecycleError`, the same refusal as the client sees it on the wire:
a JSON-RPC error -32600 (Invalid Request; the spec leaves the code open).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from wirelab_common.state_table import BadTransition, StateTable

from .jsonrpc import INVALID_PARAMS, INVALID_REQUEST, UNSUPPORTED_PROTOCOL_VERSION, JsonRpcError

MODERN_VERSIONS = ("2026-07-28",)
# 2025-11-25 is the revision we implement; 2025-06-18 and 2025-03-26 differ from it only in
# features this server does not use, and older clients (MCP Inspector 0.15) still offer them.
LEGACY_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
SUPPORTED_VERSIONS = MODERN_VERSIONS + LEGACY_VERSIONS
LATEST_LEGACY = LEGACY_VERSIONS[0]
# 2026-07-28 transports/streamable-http §Protocol Version Header: no header means 2025-03-26.
DEFAULT_HEADER_VERSION = "2025-03-26"

# 2026-07-28 basic/index §_meta: the per-request envelope keys.
META_PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_CLIENT_INFO = "io.modelcontextprotocol/clientInfo"
META_SERVER_INFO = "io.modelcontextprotocol/serverInfo"
META_LOG_LEVEL = "io.modelcontextprotocol/logLevel"

# RFC 5424 severities, least severe first (server/utilities/logging §Log Levels).
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


class Phase(Enum):
    NEW = "new"
    INITIALIZING = "initializing"  # initialize answered, initialized notification not seen yet
    OPERATING = "operating"
    CLOSED = "closed"


class Event(Enum):
    INITIALIZE = "initialize request"
    INITIALIZED = "notifications/initialized"
    PING = "ping"
    REQUEST = "request"
    CLOSE = "close"


LIFECYCLE = StateTable("lifecycle", {
    (Phase.NEW, Event.INITIALIZE): Phase.INITIALIZING,
    (Phase.NEW, Event.PING): Phase.NEW,
    (Phase.NEW, Event.CLOSE): Phase.CLOSED,
    (Phase.INITIALIZING, Event.INITIALIZED): Phase.OPERATING,
    (Phase.INITIALIZING, Event.PING): Phase.INITIALIZING,
    (Phase.INITIALIZING, Event.REQUEST): Phase.INITIALIZING,
    (Phase.INITIALIZING, Event.CLOSE): Phase.CLOSED,
    (Phase.OPERATING, Event.INITIALIZED): Phase.OPERATING,
    (Phase.OPERATING, Event.PING): Phase.OPERATING,
    (Phase.OPERATING, Event.REQUEST): Phase.OPERATING,
    (Phase.OPERATING, Event.CLOSE): Phase.CLOSED,
})

# Why each refusal happens, for the error message (the "expected vs actual" rule).
_REFUSALS = {
    (Phase.NEW, Event.REQUEST): "server not initialized: send initialize first",
    (Phase.NEW, Event.INITIALIZED): "initialized notification before initialize",
    (Phase.INITIALIZING, Event.INITIALIZE): "already initialized: initialize may be sent only once",
    (Phase.OPERATING, Event.INITIALIZE): "already initialized: initialize may be sent only once",
}


class LifecycleError(JsonRpcError):
    """A :class:`BadTransition` of the handshake, as the peer sees it: -32600 on the wire."""

    def __init__(self, refused: BadTransition) -> None:
        phase, event = refused.state, refused.event
        reason = _REFUSALS.get((phase, event), f"{event.value} not allowed")
        super().__init__(INVALID_REQUEST, f"{reason} ({refused})")
        self.phase = phase
        self.event = event


def negotiate(requested: Any) -> str:
    """2025-11-25 lifecycle §Version Negotiation: the same version if supported, else our latest."""
    return requested if requested in LEGACY_VERSIONS else LATEST_LEGACY


@dataclass
class Lifecycle:
    """The legacy handshake state of one stdio connection or one HTTP session."""

    phase: Phase = Phase.NEW
    protocol_version: str | None = None
    client_info: dict[str, Any] = field(default_factory=dict)
    client_capabilities: dict[str, Any] = field(default_factory=dict)
    log_level: str | None = None  # set by logging/setLevel; None: send no log messages
    subscriptions: set[str] = field(default_factory=set)  # URIs watched with resources/subscribe

    def fire(self, event: Event) -> tuple[Phase, Phase]:
        """Apply ``event``; returns (old, new) phase or raises LifecycleError."""
        try:
            target = LIFECYCLE.next(self.phase, event)
        except BadTransition as refused:
            raise LifecycleError(refused) from refused
        old, self.phase = self.phase, target
        return old, target

    def initialize(self, params: dict[str, Any]) -> str:
        """Handle the initialize request's params; returns the negotiated version."""
        requested = params.get("protocolVersion")
        if not isinstance(requested, str):
            raise JsonRpcError(INVALID_PARAMS, "initialize needs params.protocolVersion (a string)")
        self.fire(Event.INITIALIZE)
        self.protocol_version = negotiate(requested)
        self.client_info = params.get("clientInfo") or {}
        self.client_capabilities = params.get("capabilities") or {}
        return self.protocol_version


@dataclass(frozen=True)
class Envelope:
    """What a modern request says about itself in ``params._meta``."""

    protocol_version: str
    client_capabilities: dict[str, Any]
    client_info: dict[str, Any] | None
    log_level: str | None


def is_modern(params: dict[str, Any]) -> bool:
    meta = params.get("_meta")
    return isinstance(meta, dict) and META_PROTOCOL_VERSION in meta


def read_envelope(params: dict[str, Any]) -> Envelope:
    """Validate a modern request's envelope (2026-07-28 basic/index §_meta, basic/versioning).

    Missing keys are Invalid Params (-32602); a version we do not implement is
    UnsupportedProtocolVersion (-32022) with ``data.supported`` and ``data.requested``.
    """
    meta = params.get("_meta")
    if not isinstance(meta, dict):
        raise JsonRpcError(INVALID_PARAMS, f"params._meta must be an object carrying {META_PROTOCOL_VERSION} "
                           f"and {META_CLIENT_CAPABILITIES}")
    missing = [key for key in (META_PROTOCOL_VERSION, META_CLIENT_CAPABILITIES) if key not in meta]
    if missing:
        raise JsonRpcError(INVALID_PARAMS, f"params._meta is missing {', '.join(missing)}")
    version = meta[META_PROTOCOL_VERSION]
    if not isinstance(version, str):
        raise JsonRpcError(INVALID_PARAMS, f"{META_PROTOCOL_VERSION} must be a string")
    if version not in MODERN_VERSIONS:
        raise unsupported_version(version)
    level = meta.get(META_LOG_LEVEL)
    if level is not None and level not in LOG_LEVELS:
        raise JsonRpcError(INVALID_PARAMS, f"unknown log level {level!r}; one of {', '.join(LOG_LEVELS)}")
    capabilities = meta[META_CLIENT_CAPABILITIES]
    info = meta.get(META_CLIENT_INFO)
    return Envelope(version, capabilities if isinstance(capabilities, dict) else {},
                    info if isinstance(info, dict) else None, level)


def unsupported_version(requested: Any) -> JsonRpcError:
    # data.supported lists every version, legacy included: a dual-era client falls back to
    # initialize when it sees a handshake version there (2026-07-28 basic/versioning).
    return JsonRpcError(UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version",
                        {"supported": list(SUPPORTED_VERSIONS), "requested": requested})


def level_allows(threshold: str | None, level: str) -> bool:
    """Should a message at ``level`` go out when the client asked for ``threshold`` and above?"""
    return threshold is not None and LOG_LEVELS.index(level) >= LOG_LEVELS.index(threshold)


def client_name(params: dict[str, Any], lifecycle: Lifecycle | None) -> str:
    """What the client calls itself: ``clientInfo.name`` from this request's ``_meta`` (2026-07-28)
    or from ``initialize`` (2025-11-25); ``client`` if it has not said.  Trace events name
    their ``peer`` with it."""
    meta = params.get("_meta")
    info = meta.get(META_CLIENT_INFO) if isinstance(meta, dict) else params.get("clientInfo")
    if not isinstance(info, dict) and lifecycle is not None:
        info = lifecycle.client_info
    name = info.get("name") if isinstance(info, dict) else None
    return name if isinstance(name, str) and name else "client"
