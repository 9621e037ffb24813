"""The ``graphql-transport-ws`` protocol, sans I/O: text messages in, events and messages out.

Reading order: messages -> **transport_ws** -> client -> auction -> feeds -> server -> demo.

GraphQL over WebSocket (the protocol of the ``graphql-ws`` library, its
``PROTOCOL.md``) runs inside one WebSocket whose subprotocol is
``graphql-transport-ws``.  Every WebSocket message is one JSON object with a
``type``; the ones about an operation also carry the ``id`` the client chose::

    client                         server
      connection_init {payload} ->           (auth goes here: the payload, not the URL)
                                <- connection_ack {payload}
      subscribe {id, payload: {query, variables, operationName}} ->
                                <- next {id, payload: {data, errors}}   (0..n times)
                                <- complete {id}  (or: error {id, payload: [GraphQLError]})
      complete {id} ->                        (the client stops a subscription)
      ping <-> pong                           (either side, any time after the socket opens)

Misbehaviour ends the whole connection with a WebSocket close code from the
protocol (:class:`CloseCode`): 4400 for a message that is not one, 4401 for an
operation before ``connection_ack``, 4403 when the server refuses the
``connection_init`` payload, 4408 when no ``connection_init`` came in time,
4409 for a second ``subscribe`` with an id that is still running, 4429 for a
second ``connection_init``.

The checks that make a text a message at all (JSON, a known ``type``, an
``id`` where one belongs) are in ``messages.py``; this module decides whether
it is the right message for the moment.  Both ends are here as classes with
the same shape (python-websockets' sans-I/O contract): feed a received text
to ``receive()``, act on the events it returns, send what ``data_to_send()``
returns, and close the socket when ``close`` is set.  Neither class reads a clock: the driver calls
``ServerConnection.init_timed_out()`` when its timer fires.

The server's connection moves through this table (ping and pong are allowed in
every open state and change nothing)::

    awaiting_init --connection_init--> deciding
    awaiting_init --init_timeout-->    closed
    awaiting_init --subscribe-->       closed
    awaiting_init --complete-->        closed
    deciding      --accept-->          acknowledged
    deciding      --reject-->          closed
    deciding      --connection_init--> closed
    deciding      --subscribe-->       closed
    deciding      --complete-->        closed
    acknowledged  --subscribe-->       acknowledged
    acknowledged  --complete-->        acknowledged
    acknowledged  --connection_init--> closed

and the client's through this one::

    awaiting_ack --connection_ack--> acknowledged
    acknowledged --next-->           acknowledged
    acknowledged --error-->          acknowledged
    acknowledged --complete-->       acknowledged

A message of the wrong kind for the state (say ``next`` before the ack) is a
protocol violation: close with 4400, naming what came and what was expected.
"""


from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from wirelab_common.state_table import Machine, StateTable

from .messages import (  # noqa: F401  (SUBPROTOCOL, CloseCode, encode: the protocol's names, from here too)
    CLIENT_TYPES,
    SERVER_TYPES,
    SUBPROTOCOL,
    CloseCode,
    ProtocolError,
    decode,
    encode,
)

SERVER_TABLE = StateTable("graphql-transport-ws server", {
    ("awaiting_init", "connection_init"): "deciding",  # the application judges the payload
    ("awaiting_init", "init_timeout"): "closed",  # 4408
    ("awaiting_init", "subscribe"): "closed",  # 4401
    ("awaiting_init", "complete"): "closed",  # 4401
    ("deciding", "accept"): "acknowledged",  # > connection_ack
    ("deciding", "reject"): "closed",  # 4403
    ("deciding", "connection_init"): "closed",  # 4429
    ("deciding", "subscribe"): "closed",  # 4401: the ack has not gone out yet
    ("deciding", "complete"): "closed",  # 4401
    ("acknowledged", "subscribe"): "acknowledged",
    ("acknowledged", "complete"): "acknowledged",
    ("acknowledged", "connection_init"): "closed",  # 4429
})
# Why a move to "closed" closes, with the code and reason the protocol gives it.
SERVER_CLOSES: dict[tuple[str, str], tuple[CloseCode, str]] = {
    ("awaiting_init", "init_timeout"): (CloseCode.INIT_TIMEOUT, "Connection initialisation timeout"),
    ("awaiting_init", "subscribe"): (CloseCode.UNAUTHORIZED, "Unauthorized"),
    ("awaiting_init", "complete"): (CloseCode.UNAUTHORIZED, "Unauthorized"),
    ("deciding", "reject"): (CloseCode.FORBIDDEN, "Forbidden"),
    ("deciding", "connection_init"): (CloseCode.TOO_MANY_INIT, "Too many initialisation requests"),
    ("deciding", "subscribe"): (CloseCode.UNAUTHORIZED, "Unauthorized"),
    ("deciding", "complete"): (CloseCode.UNAUTHORIZED, "Unauthorized"),
    ("acknowledged", "connection_init"): (CloseCode.TOO_MANY_INIT, "Too many initialisation requests"),
}

CLIENT_TABLE = StateTable("graphql-transport-ws client", {
    ("awaiting_ack", "connection_ack"): "acknowledged",
    ("acknowledged", "next"): "acknowledged",
    ("acknowledged", "error"): "acknowledged",
    ("acknowledged", "complete"): "acknowledged",
})



# Events: what a received message means to the application.
@dataclass(frozen=True)
class InitRequested:
    """connection_init arrived: call ``accept()`` or ``reject()`` after judging ``payload``."""

    payload: dict[str, Any]


@dataclass(frozen=True)
class SubscribeRequested:
    """Start operation ``id`` (a query, a mutation or a subscription)."""

    id: str
    query: str
    variables: dict[str, Any] | None = None
    operation_name: str | None = None


@dataclass(frozen=True)
class CompleteRequested:
    """The client stopped operation ``id``: end it, send nothing more for it."""

    id: str


@dataclass(frozen=True)
class Acknowledged:
    payload: dict[str, Any] | None


@dataclass(frozen=True)
class Next:
    id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class OperationError:
    """The operation failed before it produced a result (validation); it is over."""

    id: str
    errors: list[dict[str, Any]]


@dataclass(frozen=True)
class Completed:
    id: str


@dataclass(frozen=True)
class Pinged:
    """A ping came; the pong is already in ``data_to_send()``."""


@dataclass(frozen=True)
class Ponged:
    pass


@dataclass(frozen=True)
class Close:
    """Close the WebSocket with ``code`` and ``reason``; nothing more will be sent."""

    code: int
    reason: str


@dataclass
class _Connection:
    """What both ends share: the outbox, the close decision, ping/pong."""

    outbox: list[str] = field(default_factory=list)
    close: Close | None = None

    def data_to_send(self) -> list[str]:
        """The texts to send, in order, once each."""
        out, self.outbox = self.outbox, []
        return out

    def _send(self, message: dict[str, Any]) -> None:
        if self.close is None:
            self.outbox.append(encode(message))

    def _fail(self, code: int, reason: str) -> list[Any]:
        if self.close is None:
            self.close = Close(int(code), reason)
        return [self.close]

    def ping(self) -> None:
        self._send({"type": "ping"})

    def _ping_pong(self, kind: str) -> list[Any]:
        if kind == "ping":
            self._send({"type": "pong"})  # "as soon as possible" (PROTOCOL.md, Pong)
            return [Pinged()]
        return [Ponged()]


class ServerConnection(_Connection):
    """The server's end of one ``graphql-transport-ws`` connection."""

    def __init__(self) -> None:
        super().__init__()
        self.machine = Machine(SERVER_TABLE, "awaiting_init")
        self.running: set[str] = set()  # operation ids not yet completed: a second subscribe is 4409

    @property
    def state(self) -> str:
        return str(self.machine.state)

    def receive(self, text: str | bytes) -> list[Any]:
        """Events for one received message (a :class:`Close` ends the connection)."""
        if self.close is not None:
            return []  # after the close decision nothing the client sends matters
        try:
            message = decode(text, CLIENT_TYPES)
        except ProtocolError as exc:
            return self._fail(exc.code, exc.reason)
        kind = message["type"]
        if kind in ("ping", "pong"):
            return self._ping_pong(kind)
        if err := self._move(kind):
            return err
        if kind == "connection_init":
            return [InitRequested(message.get("payload") or {})]
        op_id = message["id"]
        if kind == "complete":
            if op_id not in self.running:
                return []  # it had already ended: the client's complete crossed ours
            self.running.discard(op_id)
            return [CompleteRequested(op_id)]
        if op_id in self.running:
            return self._fail(CloseCode.SUBSCRIBER_EXISTS, f"Subscriber for {op_id} already exists")
        self.running.add(op_id)
        payload = message["payload"]
        return [SubscribeRequested(op_id, payload["query"], payload.get("variables"),
                                   payload.get("operationName"))]

    def _move(self, event: str) -> list[Any]:
        before = self.state
        self.machine.fire(event)  # every (state, client message) pair is in the table
        if self.state == "closed":
            return self._fail(*SERVER_CLOSES[(before, event)])
        return []

    def accept(self, payload: dict[str, Any] | None = None) -> None:
        """The connection_init payload is good: send connection_ack."""
        self.machine.fire("accept")
        self._send({"type": "connection_ack", **({"payload": payload} if payload else {})})

    def reject(self) -> Close:
        """The connection_init payload is not good enough: close with 4403."""
        self._move("reject")
        assert self.close is not None
        return self.close

    def init_timed_out(self) -> Close | None:
        """The driver's timer fired: close with 4408 if connection_init has not come."""
        if self.state != "awaiting_init":
            return None
        self._move("init_timeout")
        return self.close

    def send_next(self, op_id: str, result: dict[str, Any]) -> None:
        if op_id in self.running:
            self._send({"id": op_id, "type": "next", "payload": result})

    def send_next_encoded(self, op_id: str, result_json: str) -> None:
        """``send_next`` with the result already JSON: a server that sends one result to many
        subscribers encodes it once.  The text is the one ``send_next`` makes."""
        if op_id in self.running and self.close is None:
            self.outbox.append(f'{{"id":{json.dumps(op_id)},"type":"next","payload":{result_json}}}')

    def fail(self, code: int, reason: str) -> Close:
        """Close for a reason of the driver's own (4500, a reader too slow to keep): nothing more goes out."""
        self._fail(code, reason)
        assert self.close is not None
        return self.close

    def send_error(self, op_id: str, errors: list[dict[str, Any]]) -> None:
        """The operation failed validation: error ends it (no complete follows)."""
        if op_id in self.running:
            self.running.discard(op_id)
            self._send({"id": op_id, "type": "error", "payload": errors})

    def send_complete(self, op_id: str) -> None:
        if op_id in self.running:
            self.running.discard(op_id)
            self._send({"id": op_id, "type": "complete"})


class ClientConnection(_Connection):
    """The client's end: ``connection_init`` goes out at once, operations after the ack."""

    def __init__(self, payload: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.machine = Machine(CLIENT_TABLE, "awaiting_ack")
        self.running: set[str] = set()
        self._send({"type": "connection_init", **({"payload": payload} if payload is not None else {})})

    @property
    def state(self) -> str:
        return str(self.machine.state)

    def subscribe(self, op_id: str, query: str, variables: dict[str, Any] | None = None,
                  operation_name: str | None = None) -> None:
        """Start an operation; ``op_id`` is the caller's (ids are injected, never random here)."""
        if op_id in self.running:
            raise ValueError(f"operation {op_id} is still running; the server would close with 4409")
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        if operation_name is not None:
            payload["operationName"] = operation_name
        self.running.add(op_id)
        self._send({"id": op_id, "type": "subscribe", "payload": payload})

    def complete(self, op_id: str) -> None:
        """Stop an operation; messages for it that were already on the way are dropped."""
        if op_id in self.running:
            self.running.discard(op_id)
            self._send({"id": op_id, "type": "complete"})

    def receive(self, text: str | bytes) -> list[Any]:
        if self.close is not None:
            return []
        try:
            message = decode(text, SERVER_TYPES)
        except ProtocolError as exc:
            return self._fail(exc.code, exc.reason)
        kind = message["type"]
        if kind in ("ping", "pong"):
            return self._ping_pong(kind)
        if not self.machine.accepts(kind):
            expected = ", ".join(str(e) for e in CLIENT_TABLE.expected(self.machine.state))
            return self._fail(CloseCode.BAD_REQUEST, f"Unexpected {kind} in state {self.state} "
                                                     f"(expected: {expected})")
        self.machine.fire(kind)
        if kind == "connection_ack":
            return [Acknowledged(message.get("payload"))]
        op_id = message["id"]
        if op_id not in self.running:
            return []  # we completed it ourselves and the server's last messages crossed ours
        if kind == "next":
            return [Next(op_id, message["payload"])]
        self.running.discard(op_id)
        if kind == "error":
            return [OperationError(op_id, message["payload"])]
        return [Completed(op_id)]
