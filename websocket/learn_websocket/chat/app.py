"""The chat web application: FastAPI routes around the hub and the broker.

Reading order: schema -> hub -> broker -> **app** -> handlers -> server; then client; then the page.

``create_app(settings)`` returns an ASGI app made of two small routers:

- :func:`pages`: ``GET /`` (and ``/chat.js``), the browser page, and
  ``GET /healthz``, a JSON status for load balancers and tests;
- :func:`chat_socket`: ``WebSocket /ws``, the chat: :func:`admit` decides before
  ``accept()``, then ``handlers.Chat`` runs the session, one small handler per
  message type.

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

from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import resources

from fastapi import APIRouter, FastAPI, WebSocket
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse

from wirelab_common.wiretrace import Trace

from .broker import make_broker
from .fast import DirectChat, DirectHub
from .handlers import Chat
from .hub import Hub

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
    # True (default): fast.py's path per message (write at once while a member's outbox is
    # empty, read a few messages ahead); False (--plain): the lesson's, hub.py and handlers.py.
    fast: bool = True
    trace: Trace | None = None
    # False (--quiet): no "<"/">" line per message, and no formatting work for one
    # either (each line costs a few microseconds).
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


def peer_of(websocket: WebSocket) -> str:
    client = websocket.client
    # Behind nginx, uvicorn takes the address from X-Forwarded-For, without a port.
    return (f"{client.host}:{client.port}" if client.port else client.host) if client else "?"


async def deny(chat: Chat, websocket: WebSocket, peer: str, status: int, detail: str) -> None:
    chat.trace.state(f"rejected {peer}: HTTP {status} ({detail})")
    # RFC 9110 §15.5.2: a 401 names the authentication scheme it wants.
    headers = {"WWW-Authenticate": 'Bearer realm="chat"'} if status == 401 else {}
    try:
        await websocket.send_denial_response(PlainTextResponse(detail, status, headers))
    except RuntimeError:
        await websocket.close(1008)  # no denial extension: the server answers a bare 403


async def admit(chat: Chat, websocket: WebSocket, peer: str, settings: Settings,
                users_by_token: dict[str, str]) -> str | None:
    """Steps 1-2 above, before ``accept()``: the user, or None once a denial was sent."""
    # §10.2: browsers always send Origin.  Any page on the web may open a WebSocket
    # to us, and the browser attaches our cookies (cross-site WebSocket hijacking;
    # the same-origin policy does not apply to WebSockets).  Our token is not sent
    # automatically, but the check is cheap and closes the whole class of attack.
    # Non-browser clients (the Python client, curl) send no Origin; no foreign page
    # can make them act for a user, so a missing Origin is allowed.
    origin = websocket.headers.get("origin")
    if origin is not None and origin not in settings.allowed_origins:
        await deny(chat, websocket, peer, 403, f"origin {origin} is not allowed")
        return None
    user = users_by_token.get(presented_token(websocket))
    if user is None:
        await deny(chat, websocket, peer, 401, "missing or unknown token")
        return None
    if chat.hub.closing:
        await deny(chat, websocket, peer, 503, "server shutting down")
        return None
    return user


def pages(chat: Chat) -> APIRouter:
    router = APIRouter()

    @router.get("/")
    async def page() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"), media_type="text/html")

    @router.get("/chat.js")
    async def script() -> FileResponse:
        return FileResponse(str(STATIC / "chat.js"), media_type="text/javascript")

    @router.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "server": chat.server_id, "broker": chat.broker.mode,
                             "members": len(chat.hub.members), "rooms": len(chat.hub.rooms)})

    return router


def chat_socket(chat: Chat, settings: Settings) -> APIRouter:
    router = APIRouter()
    users_by_token = {token: user for user, token in settings.tokens.items()}

    @router.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        peer = peer_of(websocket)
        user = await admit(chat, websocket, peer, settings, users_by_token)
        if user is not None:
            await websocket.accept()
            await chat.session(websocket, user, peer)

    return router


def create_app(settings: Settings) -> FastAPI:
    trace = settings.trace or Trace(settings.server_id)
    # fast.py's classes by default; --plain: the lesson's.
    hub_class, chat_class = (DirectHub, DirectChat) if settings.fast else (Hub, Chat)
    hub = hub_class(settings.server_id, settings.queue_size, trace)
    broker = make_broker(hub, settings.redis_url, settings.server_id, trace, settings.trace_messages)
    chat = chat_class(settings.server_id, hub, broker, trace, settings.trace_messages)

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
    app.include_router(pages(chat))
    app.include_router(chat_socket(chat, settings))
    return app
