"""The relay: a public HTTP port, and an agent port where agents dial in over WebSocket.

Reading order: frames -> mux -> session -> routing -> **relay** / agent -> demo.

Run: ``python -m learn_tunnel.relay --port 8020 --agent-port 8021 --token T``.

*Agent port* (websockets): ``GET /connect?name=NAME`` with ``Authorization:
Bearer TOKEN``.  The handshake itself is refused with an HTTP status when the
token is wrong (401, compared in constant time), the name is not a DNS label
(400), or another agent holds the name (409).  An accepted agent's name maps to
its :class:`session.Session` until its WebSocket closes.

*Public port* (uvicorn, a plain ASGI callable so that bodies stream): each
request is routed by ``routing.route`` and becomes one stream on its agent's
connection: HEADERS, then the body as DATA as it arrives.  Then:

- the agent's HEADERS become the response status and headers, its DATA the
  body, each chunk acknowledged once uvicorn took it (flow control end to end);
- no tunnel of that name: ``404``; the agent's connection ends before the
  response starts: ``502`` (after it started, the public connection is cut:
  a truncated body must not look complete); no response head within
  ``--response-timeout``: ``504``, and the stream is reset (``CANCEL``);
- the public client goes away: the stream is reset (``CANCEL``), so the
  agent stops its local request.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from wirelab_common.asgi_server import TracedServer, config, run_server
from wirelab_common.server_cli import add_server_options
from wirelab_common.wiretrace import Trace

from . import upgrade
from .frames import ErrorCode
from .mux import INITIAL_WINDOW, Connection, DataReceived, HeadersReceived, StreamReset
from .routing import NAME, bearer, end_to_end, route, token_ok
from .session import MAX_MESSAGE, Session, SessionGone
from .socket_hub import SocketHub

DEFAULT_TOKEN = "wirelab-tunnel-token"
EVENTS = "/events/"  # Socket Mode: POST /events/APP queues an event for APP's agents


class Relay:
    def __init__(self, token: str, trace: Trace, *, response_timeout: float, show_data: bool,
                 flood_limit: int = 1000, window: int = INITIAL_WINDOW, serial: bool = False,
                 ack_deadline: float = 3.0, websocket: bool = True) -> None:
        self.token, self.trace = token, trace
        self.response_timeout = response_timeout
        self.show_data = show_data
        self.flood_limit = flood_limit
        self.window = window
        # --serial: one public request at a time, as a tunnel without streams would have to
        self.one_at_a_time = asyncio.Lock() if serial else None
        self.agents: dict[str, Session] = {}
        self.websocket = websocket  # --no-websocket: refuse upgrades (the demo's switch)
        self.hub = SocketHub(trace, ack_deadline)  # Socket Mode (socket_hub.py)
        self.public_host, self.public_port = "127.0.0.1", 0

    # -- the agent port -------------------------------------------------------------------------

    def check_agent(self, ws: ServerConnection, request: Request) -> Response | None:
        """websockets' process_request: refuse the handshake before any frame is exchanged."""
        url = urlsplit(request.path)
        query = parse_qs(url.query)
        name = (query.get("name") or query.get("app") or [""])[0]
        if not token_ok(bearer(request.headers.get("Authorization")), self.token):
            self.trace.state(f"agent refused: bad token (name {name!r})")
            return ws.respond(HTTPStatus.UNAUTHORIZED, "bad or missing bearer token\n")
        if not NAME.fullmatch(name):
            return ws.respond(HTTPStatus.BAD_REQUEST, "name must be one DNS label: a-z, 0-9, '-'\n")
        if url.path == "/socket":
            return None  # Socket Mode: any number of connections per app share its events
        if url.path != "/connect":
            return ws.respond(HTTPStatus.NOT_FOUND, "agents use /connect?name=NAME or /socket?app=APP\n")
        if name in self.agents:
            self.trace.state(f"agent refused: {name!r} is taken")
            return ws.respond(HTTPStatus.CONFLICT, f"the name {name!r} is taken by another agent\n")
        return None

    def tell_agent(self, ws: ServerConnection, request: Request, response: Response) -> None:
        """websockets' process_response: the accepted agent learns its public URL from a header."""
        url = urlsplit(request.path)
        name = (parse_qs(url.query).get("name") or [""])[0]
        if response.status_code == HTTPStatus.SWITCHING_PROTOCOLS and url.path == "/connect":
            response.headers["X-Tunnel-URL"] = f"http://{name}.localhost:{self.public_port}/"

    async def agent_connected(self, ws: ServerConnection) -> None:
        url = urlsplit(ws.request.path)
        if url.path == "/socket":
            return await self.hub.agent_connected(ws, parse_qs(url.query)["app"][0])
        name = (parse_qs(url.query).get("name") or [""])[0]
        if name in self.agents:  # two handshakes for one name raced past check_agent
            await ws.close(1008, f"the name {name!r} is taken by another agent")
            return
        conn = Connection(opener=True, flood_limit=self.flood_limit, initial_window=self.window)
        session = Session(ws, conn, self.trace.child(f"relay/{name}"), show_data=self.show_data)
        self.agents[name] = session
        self.trace.state(f"tunnel {name} registered: http://{name}.localhost:{self.public_port}/ "
                         f"and http://{self.public_host}:{self.public_port}/t/{name}/")
        try:
            reason = await session.run()
        finally:
            if self.agents.get(name) is session:
                del self.agents[name]
        self.trace.state(f"tunnel {name} unregistered ({reason})")

    # -- the public port ------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
        elif scope["type"] == "http" and (app := socket_mode_app(scope)) is not None:
            await self.hub.public(scope, receive, send, app)
        elif scope["type"] == "http" and self.one_at_a_time is not None:
            async with self.one_at_a_time:
                await self.public_request(scope, receive, send)
        elif scope["type"] == "http":
            await self.public_request(scope, receive, send)
        elif scope["type"] == "websocket" and not self.websocket:
            await send({"type": "websocket.close", "code": 1008})  # before accept: uvicorn says 403
        elif scope["type"] == "websocket":
            await self.public_websocket(scope, receive, send)

    async def public_request(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        host = next((v for k, v in headers if k == "host"), None)
        target = scope["raw_path"].decode("latin-1") + ("?" + scope["query_string"].decode("latin-1")
                                                        if scope["query_string"] else "")
        found = route(host, target)
        if found is None:
            return await plain(send, 404, "no tunnel named: use http://NAME.localhost:PORT/ or /t/NAME/\n")
        name, path = found
        session = self.agents.get(name)
        if session is None:
            return await plain(send, 404, f"no agent is connected for tunnel {name!r}\n")
        client = scope.get("client") or ("", 0)
        forwarded = [("x-forwarded-for", client[0]), ("x-forwarded-host", host or ""),
                     ("x-forwarded-proto", scope.get("scheme", "http"))]
        head = {"method": scope["method"], "path": path, "headers": end_to_end(headers) + forwarded}
        # HTTP/1.1 (RFC 9112 section 6.3): no Content-Length and no Transfer-Encoding means no body.
        lengths = {k: v for k, v in headers if k in ("content-length", "transfer-encoding")}
        no_body = not lengths or lengths == {"content-length": "0"}
        try:
            stream_id = await session.open(head, end_stream=no_body)
        except SessionGone as exc:
            return await plain(send, 502, f"the agent for {name!r} is gone: {exc}\n")
        upload = asyncio.create_task(self.upload(session, stream_id, receive, not no_body))
        try:
            await self.respond(session, stream_id, name, send)
        finally:
            upload.cancel()
            session.forget(stream_id)

    async def upload(self, session: Session, stream_id: int, receive: Any, has_body: bool) -> None:
        """The request body, as it arrives; then wait for the public client to go away."""
        try:
            while has_body:
                message = await receive()
                if message["type"] == "http.disconnect":
                    break
                more = message.get("more_body", False)
                await session.send_body(stream_id, message.get("body", b""), end_stream=not more)
                has_body = more
            if not has_body:
                while (await receive())["type"] != "http.disconnect":
                    pass  # uvicorn says disconnect when the client leaves (or once the response is done)
            if stream_id in session.conn.streams:
                session.trace.note(f"stream {stream_id}: the public client went away; cancelling")
                await session.reset(stream_id, ErrorCode.CANCEL, "the public client went away")
        except SessionGone:
            pass

    async def respond(self, session: Session, stream_id: int, name: str, send: Any) -> None:
        try:
            event = await asyncio.wait_for(session.next_event(stream_id), self.response_timeout)
        except TimeoutError:
            await session.reset(stream_id, ErrorCode.CANCEL, f"no response in {self.response_timeout:g} s")
            return await plain(send, 504, f"the app behind {name!r} did not answer in "
                                          f"{self.response_timeout:g} s\n")
        except SessionGone as exc:
            return await plain(send, 502, f"the agent for {name!r} went away: {exc}\n")
        if isinstance(event, StreamReset):
            return await plain(send, 502, f"the agent refused it: {event.code.name} {event.reason}\n")
        if not isinstance(event, HeadersReceived):
            return await plain(send, 502, "the agent sent a body before a response head\n")
        response_headers = [(k.encode("latin-1"), str(v).encode("latin-1"))
                            for k, v in end_to_end([tuple(h) for h in event.head.get("headers", [])])]
        await send({"type": "http.response.start", "status": int(event.head.get("status", 502)),
                    "headers": response_headers})
        if event.end_stream:
            return await send({"type": "http.response.body", "body": b""})
        while True:
            try:
                event = await asyncio.wait_for(session.next_event(stream_id), self.response_timeout)
            except (TimeoutError, SessionGone) as exc:
                # The status line is out; all we can do is cut the connection so the client sees
                # a truncated body as an error, not as a complete (shorter) one.
                await session.reset(stream_id, ErrorCode.CANCEL, "response body stalled")
                raise ConnectionAbortedError(f"tunnel {name!r}: response body interrupted: {exc!r}") from None
            if isinstance(event, StreamReset) and not event.remote:
                return  # we reset it: the public client went away, nobody is left to answer
            if isinstance(event, StreamReset):
                raise ConnectionAbortedError(f"tunnel {name!r}: the agent reset the stream: {event.reason}")
            if isinstance(event, DataReceived):
                await send({"type": "http.response.body", "body": event.data,
                            "more_body": not event.end_stream})
                await session.acknowledge(stream_id, len(event.data))  # uvicorn took it: send more
                if event.end_stream:
                    return


    async def public_websocket(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """A WebSocket through the tunnel (``upgrade.py``): accepted only once the app accepted."""
        await receive()  # websocket.connect
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        host = next((v for k, v in headers if k == "host"), None)
        query = scope["query_string"].decode("latin-1")
        found = route(host, scope["raw_path"].decode("latin-1") + ("?" + query if query else ""))
        session = self.agents.get(found[0]) if found else None
        if found is None or session is None:
            return await send({"type": "websocket.close", "code": 1008})  # before accept: uvicorn says 403
        passed = [(k, v) for k, v in end_to_end(headers) if not k.startswith("sec-websocket-")]
        head = {"method": "GET", "path": found[1], "headers": passed, "upgrade": "websocket",
                "subprotocols": list(scope.get("subprotocols", []))}
        try:
            stream_id = await session.open(head)
            answer = await asyncio.wait_for(session.next_event(stream_id), self.response_timeout)
        except (TimeoutError, SessionGone):
            return await send({"type": "websocket.close", "code": 1011})
        try:
            if not isinstance(answer, HeadersReceived) or answer.head.get("status") != 101:
                return await send({"type": "websocket.close", "code": 1008})
            await send({"type": "websocket.accept", "subprotocol": answer.head.get("subprotocol")})
            await upgrade.first_done(upgrade.client_to_stream(session, stream_id, receive, send),
                                     upgrade.stream_to_client(session, stream_id, send))
        finally:
            session.forget(stream_id)


def socket_mode_app(scope: dict[str, Any]) -> str | None:
    """``APP`` of ``/events/APP`` on a host that names no tunnel (a tunnel's own paths stay its own)."""
    host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), None)
    path = scope["path"]
    if not path.startswith(EVENTS) or route(host, path) is not None:
        return None
    app = path[len(EVENTS):]
    return app if NAME.fullmatch(app) else None


async def plain(send: Any, status: int, text: str) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def serve_relay(args: argparse.Namespace) -> None:
    trace = Trace("relay", args.verbose, quiet=args.quiet)
    relay = Relay(args.token, trace, response_timeout=args.response_timeout, show_data=args.frames,
                  flood_limit=args.flood_limit, window=args.window, serial=args.serial,
                  ack_deadline=args.ack_deadline, websocket=not args.no_websocket)
    # compression=None: websockets offers permessage-deflate by default.  zlib compresses bytes that
    # are already compressed (images, gzip: most large bodies) at about 30 MB/s here, a cap on every
    # large transfer, and the agent must not offer it either (README, Benchmark).
    async with serve(relay.agent_connected, args.host, args.agent_port, process_request=relay.check_agent,
                     process_response=relay.tell_agent, max_size=2 * MAX_MESSAGE, compression=None) as agents:
        agent_port = agents.sockets[0].getsockname()[1]
        trace.state(f"agents connect to ws://{args.host}:{agent_port}/connect?name=NAME", always=True)

        def describe(host: str, port: int) -> list[str]:
            relay.public_host, relay.public_port = host, port
            return [f"tunnels at http://NAME.localhost:{port}/ and http://{host}:{port}/t/NAME/"]

        # The app's own Date and Server headers pass through; uvicorn must not add a second pair.
        cfg = config(relay, args.host, args.port, server_header=False, date_header=False)
        await TracedServer(cfg, trace, describe).serve()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_tunnel.relay", description=__doc__.split("\n")[0])
    add_server_options(parser, port=8020)
    parser.add_argument("--agent-port", type=int, default=8021,
                        help="port agents dial (default 8021; 0: any free port)")
    parser.add_argument("--token", default=os.environ.get("WIRELAB_TUNNEL_TOKEN", DEFAULT_TOKEN),
                        help="the bearer token agents must present (env WIRELAB_TUNNEL_TOKEN)")
    parser.add_argument("--response-timeout", type=float, default=10.0,
                        help="seconds to wait for the app's response head, and between body chunks (504)")
    parser.add_argument("--flood-limit", type=int, default=1000,
                        help="frames without data an agent may send before it is disconnected")
    parser.add_argument("--frames", action="store_true", help="trace DATA and WINDOW_UPDATE frames too")
    parser.add_argument("--window", type=int, default=INITIAL_WINDOW,
                        help="per-stream flow-control window in bytes; the agent must use the same")
    parser.add_argument("--ack-deadline", type=float, default=3.0,
                        help="Socket Mode: seconds an agent has to acknowledge an envelope (default 3)")
    parser.add_argument("--no-websocket", action="store_true",
                        help="refuse WebSocket upgrades on the public port (the demo's --no-websocket)")
    parser.add_argument("--serial", action="store_true",
                        help="one public request at a time (the demo's --no-multiplexing)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run_server(lambda: serve_relay(args), args.loop)


if __name__ == "__main__":
    main()
