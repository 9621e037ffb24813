"""The FastAPI app: strawberry's GraphQL router at ``/graphql``, auth, context, start and stop.

Reading order: schema -> hub -> store -> **app** -> server.

``GET /`` is a page (``static/index.html``) that speaks ``graphql-transport-ws``
by hand on the browser's WebSocket.  One path, ``/graphql``, serves every
transport strawberry speaks:

- ``POST /graphql`` (and ``GET`` for queries): GraphQL over HTTP; the user
  comes from ``Authorization: Bearer <token>``;
- a WebSocket to ``/graphql`` with the subprotocol ``graphql-transport-ws``
  (the current protocol, ``transport_ws.py``) or ``graphql-ws`` (the legacy
  subscriptions-transport-ws protocol): the user comes from the
  ``connection_init`` payload, ``{"token": "..."}``;
- ``POST /graphql`` with ``Accept: text/event-stream``: GraphQL over
  Server-Sent Events ("distinct connections" mode: one HTTP response per
  operation, ``event: next`` per result, ``event: complete`` at the end); the
  user comes from ``Authorization: Bearer``, as for plain HTTP.

Why the token rides in ``connection_init`` and not in the URL or a header:
browsers cannot set headers on a WebSocket, and a token in the URL lands in
proxy and server logs.  :meth:`AuctionRouter.on_ws_connect` judges it; a bad
or missing token raises ``ConnectionRejectionError``, which strawberry turns
into close 4403 on ``graphql-transport-ws`` (and ``connection_error`` plus
close 1011 on legacy ``graphql-ws``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import FileResponse
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_SSE_PROTOCOL, GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler

from wirelab_common.wiretrace import Trace, shorten

from ..messages import encode, summary
from .hub import Hub
from .schema import MAX_DEPTH, build_schema
from .store import MemoryStore, RedisStore

STATIC = Path(__file__).resolve().parent / "static"
DEMO_TOKENS = {name: f"{name}-token" for name in ("alice", "bob", "carol", "dave", "erin")}


@dataclass
class Settings:
    server_id: str = "s1"
    tokens: dict[str, str] = field(default_factory=lambda: dict(DEMO_TOKENS))
    redis_url: str | None = None
    init_timeout: float = 3.0  # seconds to wait for connection_init before closing with 4408
    max_depth: int | None = MAX_DEPTH  # None: no depth limit (--no-depth-limit)
    check_auth: bool = True  # False: every connection_init is accepted (--no-auth)
    queue_size: int = 256
    trace: Trace = field(default_factory=lambda: Trace("s1"))


def user_for(tokens: dict[str, str], token: object) -> str | None:
    """The user whose token this is, or None."""
    for name, known in tokens.items():
        if token == known:
            return name
    return None


class TracedHandler(BaseGraphQLTransportWSHandler):
    """strawberry's graphql-transport-ws handler, with every message in the wire trace."""

    async def handle_message(self, message: Any) -> None:
        self._trace(self.view.settings.trace.received, message)
        await super().handle_message(message)

    async def send_message(self, message: Any) -> None:
        self._trace(self.view.settings.trace.sent, message)
        await super().send_message(message)

    def _trace(self, mark: Any, message: Any) -> None:
        if not self.view.settings.trace.quiet:  # -q (benchmarks): not even the formatting work
            text = encode(message)
            user = self.context.get("user") if isinstance(self.context, dict) else None
            mark(shorten(summary(text), 100), [text], peer=user)  # the peer, once connection_init named it


class AuctionRouter(GraphQLRouter):
    """strawberry's router plus our ``connection_init`` check and a traced protocol handler."""

    settings: Settings
    graphql_transport_ws_handler_class = TracedHandler

    async def on_ws_connect(self, context: dict[str, Any]) -> dict[str, object] | None:
        params = context.get("connection_params") or {}
        trace = self.settings.trace
        user = user_for(self.settings.tokens, params.get("token"))
        if user is None and not self.settings.check_auth:
            user = "anyone"  # --no-auth: the demo's check must notice
        if user is None:
            trace.state("connection_init refused: no valid token -> close 4403")
            raise ConnectionRejectionError({"message": "a valid token is required"})
        context["user"] = user
        trace.state(f"connection_init accepted: {user}")
        return {"server": self.settings.server_id, "user": user}  # the connection_ack payload


def create_app(settings: Settings) -> FastAPI:
    hub = Hub(settings.queue_size)
    store = (RedisStore(hub, settings.server_id, settings.redis_url) if settings.redis_url
             else MemoryStore(hub, settings.server_id))

    async def context(request: Request = None, websocket: WebSocket = None) -> dict[str, Any]:  # type: ignore[assignment]
        ctx: dict[str, Any] = {"store": store, "hub": hub, "server_id": settings.server_id, "user": None}
        if request is not None:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() == "bearer":
                ctx["user"] = user_for(settings.tokens, token)
        return ctx

    router = AuctionRouter(build_schema(settings.max_depth), context_getter=context,
                           connection_init_wait_timeout=timedelta(seconds=settings.init_timeout),
                           subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL,
                                                   GRAPHQL_SSE_PROTOCOL),
                           graphql_ide=None)
    router.settings = settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await store.start()
        try:
            yield
        finally:
            await store.stop()

    app = FastAPI(lifespan=lifespan)
    app.include_router(router, prefix="/graphql")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")  # the browser client, same origin as /graphql

    app.state.hub, app.state.store, app.state.settings = hub, store, settings
    return app
