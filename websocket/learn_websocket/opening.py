"""The opening handshake, sequenced: bytes in, bytes and an outcome out (RFC 6455 §4).

Reading order: handshake -> **opening** -> frames -> protocol -> aio -> server / client.

``handshake.py`` builds and checks each HTTP message; this module puts them in
order, for one side of one connection, with no socket, clock or random source
(the client's key is a parameter).  The contract is that of ``protocol.py``:

1. send whatever :meth:`Opening.data_to_send` returns (the client's request is
   there from the start; the server's ``101`` or HTTP error once it has answered);
2. feed what arrived with :meth:`Opening.receive_data` (or
   :meth:`Opening.receive_eof`, or :meth:`Opening.time_out` when the driver's
   timer fires);
3. look at :attr:`Opening.state`: still CONNECTING, OPEN (then
   :attr:`Opening.connection` is the :class:`~learn_websocket.protocol.Connection`
   to use, and :attr:`Opening.early_data` the bytes that came after the head,
   which already belong to it), or CLOSED (then :attr:`Opening.error` says why,
   and the driver closes TCP once the answer is written).

The state is the connection's own machine (``protocol.CONNECTION``), in its
first state, CONNECTING; the :class:`Connection` takes over the same machine
in OPEN.  ``aio.OpeningProtocol`` drives both sides on asyncio.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from wirelab_common.state_table import Machine

from .handshake import (
    HandshakeError,
    Request,
    Response,
    build_error_response,
    build_request,
    build_response,
    offered_subprotocols,
    parse_request,
    parse_response,
    select_subprotocol,
    split_head,
    validate_request,
    validate_response,
)
from .protocol import CONNECTION, Connection, Role, State


class Opening:
    """What both sides share: a buffer for the peer's head, output, and the CONNECTING machine."""

    role: Role

    def __init__(self, connection_options: dict[str, Any] | None = None) -> None:
        self.connection_options = dict(connection_options or {})
        self.machine = Machine(CONNECTION, State.CONNECTING)
        self.subprotocol: str | None = None
        self.connection: Connection | None = None  # once OPEN
        self.error: HandshakeError | None = None  # once CLOSED
        self.early_data = b""
        self._buffer = bytearray()
        self._output: list[bytes] = []

    @property
    def state(self) -> State:
        return self.machine.state

    def data_to_send(self) -> bytes:
        data = b"".join(self._output)
        self._output.clear()
        return data

    def receive_data(self, data: bytes) -> None:
        if self.state is not State.CONNECTING:
            return  # after the head, the bytes belong to the Connection (early_data) or to nobody
        self._buffer += data
        try:
            split = split_head(self._buffer)  # §4.1, §4.2.1: a head ends at an empty line
            if split is None:
                return  # not all there yet
            head, self.early_data = split
            self._head_received(head)
        except HandshakeError as error:
            self._fail(error)

    def receive_eof(self) -> None:
        if self.state is State.CONNECTING:
            self._fail(HandshakeError(self._eof_status, "connection closed before the end of the HTTP head"))

    def _head_received(self, head: bytes) -> None:
        raise NotImplementedError

    _eof_status = 0

    def _establish(self) -> None:
        self.machine.fire("establish")
        self.connection = Connection(self.role, machine=self.machine, **self.connection_options)

    def _fail(self, error: HandshakeError) -> None:
        self.error = error
        self.machine.fire("fail")


class ServerOpening(Opening):
    """The server's side (§4.2): read a request head, answer ``101`` or an HTTP error."""

    role = Role.SERVER
    _eof_status = 400

    def __init__(self, subprotocols: Sequence[str] = (), connection_options: dict[str, Any] | None = None,
                 open_timeout: float = 10.0) -> None:
        super().__init__(connection_options)
        self.subprotocols = tuple(subprotocols)
        self.open_timeout = open_timeout
        self.request: Request | None = None

    def _head_received(self, head: bytes) -> None:
        self.request = parse_request(head)
        key = validate_request(self.request)
        self.subprotocol = select_subprotocol(offered_subprotocols(self.request.headers), self.subprotocols)
        self._output.append(build_response(key, self.subprotocol))
        self._establish()

    def time_out(self) -> None:
        """The driver's timer: no complete request head within ``open_timeout`` seconds."""
        if self.state is State.CONNECTING:
            self._fail(HandshakeError(408, f"no request head within {self.open_timeout:.0f}s"))

    def _fail(self, error: HandshakeError) -> None:
        self._output.append(build_error_response(error))  # an answer that says what was wrong
        super()._fail(error)


class ClientOpening(Opening):
    """The client's side (§4.1): send the request at once, then check the server's answer."""

    role = Role.CLIENT

    def __init__(self, host_header: str, resource: str, key: str, *, origin: str | None = None,
                 subprotocols: Sequence[str] = (), extra_headers: Iterable[tuple[str, str]] = (),
                 connection_options: dict[str, Any] | None = None) -> None:
        super().__init__(connection_options)
        self.key = key  # §4.1 item 7: the caller draws 16 random bytes, base64-encoded
        self.subprotocols = tuple(subprotocols)
        self.response: Response | None = None
        self._output.append(build_request(host_header, resource, key, origin=origin,
                                          subprotocols=subprotocols, extra_headers=extra_headers))

    def _head_received(self, head: bytes) -> None:
        self.response = parse_response(head)
        self.subprotocol = validate_response(self.response, self.key, self.subprotocols)
        self._establish()

    def time_out(self) -> None:
        if self.state is State.CONNECTING:
            self._fail(HandshakeError(0, "no answer to the opening handshake in time"))
