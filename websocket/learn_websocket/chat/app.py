"""The chat web application: FastAPI routes around the hub and the broker.

Reading order: schema -> hub -> broker -> **app** -> server; then client; then the page.

``create_app(settings)`` returns an ASGI app with three routes:

- ``GET /`` (and ``/chat.js``): the browser page;
- ``GET /healthz``: a JSON status for load balancers and tests;
- ``WebSocket /ws``: the chat.

What happens at ``/ws``, in order::

    handshake arrives (HTTP GET + Upgrade)       RFC 6455 §4.1
      1. Origin header from a foreign page?  -> HTTP 403, no upgrade   (§10.2)
      2. token missing or unknown?           -> HTTP 401, no upgrade
         (from ``Authorization: Bearer``, else from ``?token=``)
         (server shutting down?              -> HTTP 503, try another one)
      3. accept (101 Switching Protocols), send ``welcome``
      4. loop: read a frame, parse it (schema.py), act (hub.py / broker.py)
      5. socket ends -> announce ``left`` in its rooms, forget the member

Rejections happen **before** ``accept()`` as plain HTTP responses (the ASGI
"websocket.http.response" extension, which uvicorn's websockets-sansio
implementation supports): the client learns the real reason (401 vs 403), and no
WebSocket is ever opened for a stranger.  On a server without the extension the
fallback is ``close()`` before ``accept()``, which the ASGI spec turns into a bare
HTTP 403 for every rejection.

Heartbeats are not here: ASGI has no message for sending a ping, so the server
(uvicorn: ``ws_ping_interval``/``ws_ping_timeout``, see ``server.py``) pings every
client (RFC 6455 §5.5.2) and drops those that do not answer with a pong.
"""

from __future__ import annotations

import asyncio
import itertools
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import resources

from fastapi import FastAPI, WebSocket
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse

from wirelab_common.wiretrace import Trace, shorten

from . import schema
from .broker import BrokerUnavailable, make_broker
from .hub import Hub, Member

# Simplification: a static token table.  Production would verify a signed,
# expiring token (a JWT or a session cookie checked against a store) instead.
DEMO_TOKENS = {"alice": "alice-token", "bob": "bob-token", "carol": "carol-token"}

STATIC = resources.files("learn_websocket.chat") / "static"


@dataclass
class Settings:
    server_id: str = "s1"
    tokens: dict[str, str] = field(default_factory=lambda: dict(DEMO_TOKENS))  # user -> token
    # Origins whose pages may open a WebSocket here, e.g. "http://127.0.0.1:8000".
    allowed_origins: set[str] = field(default_factory=set)
    redis_url: str | None = None
    queue_size: int = 256  # per-client outbox: messages a client may fall behind by
    trace: Trace | None = None
    # False (--quiet): only the "=" state lines, no "<"/">" line per message, and no
    # formatting work for them either.  Each line costs a few microseconds.
    trace_messages: bool = True


def presented_token(websocket: WebSocket) -> str:
    """The token from ``Authorization: Bearer <token>`` (RFC 6750 §2.1), else from ``?token=``.

    The header is what our 401 asks for (``WWW-Authenticate: Bearer``), and it stays
    out of access logs.  But a browser's ``WebSocket`` API cannot set any header on
    the handshake, so the page has to put its token in the query string; hence both.
    (Query strings do show up in access logs: production prefers a short-lived,
    single-use ticket there.)  When the header is present, the query is not read.
    """
    authorization = websocket.headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.strip().partition(" ")
        # RFC 9110 §11.1: the scheme name is case-insensitive.
        return token.strip() if scheme.lower() == "bearer" else ""
    return websocket.query_params.get("token", "")


def create_app(settings: Settings) -> FastAPI:
    trace = settings.trace or Trace(settings.server_id)
    trace_messages = settings.trace_messages
    hub = Hub(settings.server_id, settings.queue_size, trace)
    broker = make_broker(hub, settings.redis_url, settings.server_id, trace, trace_messages)
    users_by_token = {token: user for user, token in settings.tokens.items()}
    message_ids = itertools.count(1)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await broker.start()
        yield
        await broker.stop()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.hub = hub
    app.state.broker = broker
    app.state.settings = settings
    app.state.trace = trace  # server.py traces heartbeat timeouts with it

    @app.get("/")
    async def page() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"), media_type="text/html")

    @app.get("/chat.js")
    async def script() -> FileResponse:
        return FileResponse(str(STATIC / "chat.js"), media_type="text/javascript")

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "server": settings.server_id, "broker": broker.mode,
                             "members": len(hub.members), "rooms": len(hub.rooms)})

    async def deny(websocket: WebSocket, peer: str, status: int, detail: str) -> None:
        trace.state(f"rejected {peer}: HTTP {status} ({detail})")
        # RFC 9110 §15.5.2: a 401 names the authentication scheme it wants.
        headers = {"WWW-Authenticate": 'Bearer realm="chat"'} if status == 401 else {}
        try:
            await websocket.send_denial_response(PlainTextResponse(detail, status, headers))
        except RuntimeError:
            await websocket.close(1008)  # no denial extension: the server answers a bare 403

    @app.websocket("/ws")
    async def chat_socket(websocket: WebSocket) -> None:
        client = websocket.client
        # Behind nginx, uvicorn takes the address from X-Forwarded-For, without a port.
        peer = (f"{client.host}:{client.port}" if client.port else client.host) if client else "?"
        # §10.2: browsers always send Origin.  Any page on the web may open a WebSocket
        # to us, and the browser attaches our cookies (cross-site WebSocket hijacking;
        # the same-origin policy does not apply to WebSockets).  Our token is not sent
        # automatically, but the check is cheap and closes the whole class of attack.
        # Non-browser clients (the Python client, curl) send no Origin; no foreign page
        # can make them act for a user, so a missing Origin is allowed.
        origin = websocket.headers.get("origin")
        if origin is not None and origin not in settings.allowed_origins:
            await deny(websocket, peer, 403, f"origin {origin} is not allowed")
            return
        user = users_by_token.get(presented_token(websocket))
        if user is None:
            await deny(websocket, peer, 401, "missing or unknown token")
            return
        if hub.closing:
            await deny(websocket, peer, 503, "server shutting down")
            return

        await websocket.accept()
        member = hub.connect(user, peer, websocket.send_text, websocket.close)
        trace.state(f"{user} OPEN from {peer}")
        hub.send(member, schema.encode(schema.welcome(user, settings.server_id)))
        code = 1006
        try:
            while True:
                frame = await websocket.receive()
                if frame["type"] == "websocket.disconnect":
                    code = frame.get("code", 1005)
                    break
                # ASGI puts a text frame's payload under "text", a binary one's under "bytes".
                text = frame.get("text")
                await handle(member, text if text is not None else frame.get("bytes") or b"")
                # Messages that came in one read are handled without waiting, and nothing
                # is sent until we yield.  Let the pumps run before a flood fills anyone's
                # queue, but not after every message (hub.py explains why).
                if hub.backlogged():
                    await asyncio.sleep(0)
        finally:
            rooms = hub.disconnect(member)
            trace.state(f"{user} CLOSED from {peer} (code {member.close_code or code})")
            for room in sorted(rooms):
                await publish(member, room, schema.left(room, user), reply_errors=False)

    async def handle(member: Member, raw: str | bytes) -> None:
        if member.close_code is not None:
            return  # being closed (e.g. a slow consumer): it no longer speaks in any room
        try:
            msg = schema.parse_client_message(raw)
        except schema.SchemaError as exc:
            if trace_messages:
                trace.received(f"{member.user} invalid: {shorten(raw, 40)!r}")
            return reply_error(member, exc.code, exc.detail)

        if isinstance(msg, schema.Join):
            if trace_messages:
                trace.received(f"{member.user} joined {msg.room}")
            if hub.closing:
                return reply_error(member, "unavailable", "server shutting down")
            if not hub.join(member, msg.room):
                # Already a member: confirm to this client only, nobody else needs to know.
                return hub.send(member, schema.encode(schema.joined(msg.room, member.user)))
            await publish(member, msg.room, schema.joined(msg.room, member.user))
        elif isinstance(msg, schema.Leave):
            if trace_messages:
                trace.received(f"{member.user} left {msg.room}")
            if not hub.leave(member, msg.room):
                return reply_error(member, "not_in_room", f"you are not in {msg.room}")
            hub.send(member, schema.encode(schema.left(msg.room, member.user)))
            await publish(member, msg.room, schema.left(msg.room, member.user))
        else:
            if trace_messages:
                trace.received(f"{member.user} says in {msg.room}: {shorten(msg.text, 40)!r}")
            if msg.room not in member.rooms:
                return reply_error(member, "not_in_room", f"join {msg.room} before saying anything there")
            message_id = f"{settings.server_id}-{next(message_ids)}"
            event = schema.message(msg.room, member.user, msg.text, message_id, settings.server_id)
            await publish(member, msg.room, event)

    def reply_error(member: Member, code: str, detail: str) -> None:
        if trace_messages:
            trace.sent(f"{member.user} error {code}: {detail}")
        hub.send(member, schema.encode(schema.error(code, detail)))

    async def publish(member: Member, room: str, event: dict[str, str], reply_errors: bool = True) -> None:
        try:
            await broker.publish(room, event)
        except BrokerUnavailable as exc:
            if reply_errors:
                reply_error(member, "unavailable", str(exc))

    return app
