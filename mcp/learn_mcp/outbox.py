"""Requests the server sends to the client (sampling, elicitation), and the wait for their answers.

Reading order: ... -> server_core -> **outbox** -> stdio_transport / sessions + http_transport.

Spec: 2025-11-25 client/sampling (``sampling/createMessage``: the server asks the
host's model to generate) and client/elicitation (``elicitation/create``: the
server asks the user for structured input).  JSON-RPC is symmetric: a server may
send a request, and the client answers it with a response carrying the same id.
Request ids are per sender, so the server numbers its own (``s1``, ``s2``, ...).

Which channel a request travels on is the driver's business (the ``send`` it
passes): over stdio, stdout like everything else; over Streamable HTTP, the SSE
stream of the POST whose tool asked (so the request is tied to that call), or the
session's GET stream once that POST stream is closed (http_get.py).  The
client's answer comes back as a line on stdin, or as its own POST (answered 202),
and the driver hands it to :meth:`Outbox.resolve`.

A server may only ask what the client declared it can answer (``capabilities.sampling``,
``capabilities.elicitation`` in ``initialize``); in 2026-07-28 such questions are
``input_required`` results instead (mrtr.py), and no request of ours is sent.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

from .jsonrpc import ErrorResponse, JsonRpcError, Message, Request, RequestId, Response

ANSWER_TIMEOUT = 120.0  # seconds: a human may be typing the answer


class Outbox:
    """One per connection (stdio) or session (HTTP): ids of requests sent, futures of their answers."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.waiting: dict[RequestId, asyncio.Future[dict[str, Any]]] = {}

    async def ask(self, send: Callable[[Message], Awaitable[None]], method: str, params: dict[str, Any],
                  timeout: float = ANSWER_TIMEOUT) -> dict[str, Any]:
        """Send ``method`` to the client and wait for its result; raises JsonRpcError for its error."""
        request_id = f"s{next(self._ids)}"
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[request_id] = answer
        try:
            await send(Request(request_id, method, params))
            return await asyncio.wait_for(answer, timeout)
        finally:
            self.waiting.pop(request_id, None)

    def resolve(self, message: Response | ErrorResponse) -> bool:
        """Hand a client's response to the request waiting for it; False if none is (late or unknown)."""
        answer = self.waiting.get(message.id) if message.id is not None else None
        if answer is None or answer.done():
            return False
        if isinstance(message, Response):
            answer.set_result(message.result if isinstance(message.result, dict) else {})
        else:
            answer.set_exception(JsonRpcError(message.error.code, message.error.message, message.error.data))
        return True
