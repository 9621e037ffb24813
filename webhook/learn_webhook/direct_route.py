"""The hot route straight to its handler, past FastAPI's routing and middleware: a fast path.

Reading order: signatures -> outbox -> group_commit -> retry_schedule -> ssrf_guard ->
dispatcher -> lean_http -> **direct_route** -> provider_app -> provider -> inbox ->
receiver_app -> receiver -> demo.

Each server has one route that carries the load: the provider's ``POST /events`` and
the receiver's ``POST /webhook``.  Profiling the benchmark put over half of the
receiver's Python time in serving HTTP, much of it FastAPI's machinery around the
handler: the middleware stack, matching the path against every route, preparing the
endpoint's arguments.  Our handlers need none of it: each takes a Starlette ``Request``
and returns a ``JSONResponse``.

:func:`direct` wraps the FastAPI app in a plain ASGI function that sends that one
method and path to *the same handler function* the FastAPI route holds, and
everything else (the other routes, the lifespan) to FastAPI.  So the code that runs
is the lesson's code; only the dispatch to it is shorter.  The servers choose at
start-up (``--route direct``, the default, or ``--route fastapi``), and
``tests/webhook/test_direct_route.py`` sends the same requests both ways and compares
the answers byte for byte.

What the short way gives up: FastAPI's exception handlers and middleware do not see
that route (there are none on it here; an exception in the handler is answered 500
by uvicorn, as it would be by Starlette's error middleware).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.routing import Route

ROUTES = ("direct", "fastapi")  # --route: the fast path, the readable one
DEFAULT_ROUTE = "direct"
Scope = MutableMapping[str, Any]
ASGI = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


def routes(found: list[Any]) -> list[Any]:
    """Every route, also those of the routers included with ``app.include_router``.

    (FastAPI 0.163 keeps an included router as one entry that holds the original router,
    where older releases copied its routes into the app's list: both are handled.)
    """
    flat = []
    for route in found:
        inner = getattr(route, "original_router", None)
        flat += routes(list(inner.routes)) if inner is not None else [route]
    return flat


def direct(app: FastAPI, method: str, path: str) -> ASGI:
    """An ASGI app: ``method path`` to its FastAPI handler directly, anything else to ``app``."""
    handlers = [route.endpoint for route in routes(app.routes)
                if isinstance(route, Route) and route.path == path and method in (route.methods or ())]
    if len(handlers) != 1:
        raise LookupError(f"{app!r} has {len(handlers)} routes for {method} {path}, not one")
    [handler] = handlers

    async def asgi(scope: Scope, receive: Callable[[], Awaitable[Any]],
                   send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] == "http" and scope["path"] == path and scope["method"] == method:
            response = await handler(Request(scope, receive))
            await response(scope, receive, send)
        else:
            await app(scope, receive, send)

    return asgi
