"""Multi round-trip requests (2026-07-28 basic/patterns/mrtr): how a modern server asks the client.

Reading order: ... -> outbox -> **mrtr** -> listen -> server_core -> transports.

A 2026-07-28 server sends the client no requests of its own.  When a tool needs the
user (elicitation) or the host's model (sampling), its ``tools/call`` is answered with
a result of ``resultType: "input_required"``::

    {"resultType": "input_required",
     "inputRequests": {"elicitation-0": {"method": "elicitation/create", "params": {...}}},
     "requestState": "<opaque>"}

The client gets the answers and *retries* the call with a new id, the same
arguments, ``inputResponses`` (the answers, under the same keys) and
``requestState`` echoed byte for byte.  The server keeps nothing in between: the
tool runs again from the top, and this time ``ctx.ask`` finds its answer in
``inputResponses`` (:class:`Round`).  A tool that asks twice gets a second
round, and so on; the answers of earlier rounds travel inside the state.  So a
tool must not change anything before its last question (``summarize`` and
``ask_for_note`` only write after asking).

``requestState`` passes through the client, so it is attacker-controlled input
(§Server Requirements 4, 5): ours is ``<payload>.<HMAC-SHA256>`` under a key
made at start-up, and the payload binds it to this method, this tool and a
digest of its arguments, with a 10-minute expiry.  A retry whose state does not
verify, or whose answers come without any state, is refused with -32602.

Only the client's declared capabilities may be asked (``_meta``
``io.modelcontextprotocol/clientCapabilities``: ``sampling``, ``elicitation``).
Pure: no I/O; the clock and the key are parameters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from .jsonrpc import INVALID_PARAMS, JsonRpcError

STATE_TTL = 600.0  # seconds a requestState stays valid: a human may take a while to answer
KEY = secrets.token_bytes(32)  # per process: a restarted server refuses old states (the client re-asks)


class InputRequired(Exception):
    """Raised by ``ctx.ask`` when the answer is not in this round: the call becomes input_required."""

    def __init__(self, key: str, method: str, params: dict[str, Any]) -> None:
        super().__init__(f"{method} needed ({key})")
        self.requests = {key: {"method": method, "params": params}}


def _digest(method: str, params: dict[str, Any]) -> str:
    """What a state is bound to: the method, and the request minus the retry's own fields."""
    salient = {k: v for k, v in params.items() if k not in ("inputResponses", "requestState", "_meta")}
    text = json.dumps([method, salient], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def sign_state(method: str, params: dict[str, Any], now: float, answers: dict[str, Any] | None = None,
               key: bytes = KEY) -> str:
    """The state for this request; ``answers``: those of earlier rounds, which the client does not resend."""
    payload = base64.urlsafe_b64encode(json.dumps(
        {"for": _digest(method, params), "exp": now + STATE_TTL, "answers": answers or {}}).encode()).decode()
    mac = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}.{mac}"


def verify_state(state: Any, method: str, params: dict[str, Any], now: float,
                 key: bytes = KEY) -> dict[str, Any]:
    """The answers of earlier rounds it carries; -32602 unless ``state`` is ours, unexpired, and made
    for this very request."""
    payload, _, mac = state.partition(".") if isinstance(state, str) else ("", "", "")
    good = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
    if not payload or not hmac.compare_digest(mac, good):
        raise JsonRpcError(INVALID_PARAMS, "requestState does not verify: send the one the server gave")
    claims = json.loads(base64.urlsafe_b64decode(payload))
    if claims["exp"] < now:
        raise JsonRpcError(INVALID_PARAMS, "requestState has expired: call again without it")
    if claims["for"] != _digest(method, params):
        raise JsonRpcError(INVALID_PARAMS, "requestState belongs to another request")
    return claims.get("answers") or {}


class Round:
    """One run of a modern request's handler: the answers it brought, the questions it asks."""

    def __init__(self, method: str, params: dict[str, Any], clock: Callable[[], float] = time.time) -> None:
        self.method, self.params, self.clock = method, params, clock
        answers = params.get("inputResponses") or {}
        earlier: dict[str, Any] = {}
        if answers or "requestState" in params:
            if not isinstance(answers, dict):
                raise JsonRpcError(INVALID_PARAMS, "inputResponses must be an object")
            earlier = verify_state(params.get("requestState"), method, params, clock())
        self.answers: dict[str, Any] = {**earlier, **answers}
        self.asked = 0

    def ask(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The answer to this question if the client sent it; else InputRequired (a new round)."""
        key = f"{method.split('/')[0]}-{self.asked}"  # the n-th question of the run: same key each round
        self.asked += 1
        answer = self.answers.get(key)
        if isinstance(answer, dict):
            return answer
        raise InputRequired(key, method, params)

    def result(self, needed: InputRequired) -> dict[str, Any]:
        return {"resultType": "input_required", "inputRequests": needed.requests,
                "requestState": sign_state(self.method, self.params, self.clock(), self.answers)}
