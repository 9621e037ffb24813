"""The signaling server: rooms of two peers over WebSocket (FastAPI on uvicorn).

Reading order: signaling -> **signaling_server** -> signaling_client -> peer -> ...

    python -m learn_webrtc.signaling_server --host 127.0.0.1 --port 8800 [--loop L] [-v | -q] \
        [--room-size 2] [--ice-server turn:127.0.0.1:3478?transport=udp --ice-username test \
        --ice-credential secret] [--ice-transport-policy relay]

It prints ``= signal   listening on http://127.0.0.1:8800`` once it accepts
(``--port 0``: any free port, named in that line; ``-q``: that line only).

- ``/ws``: the WebSocket.  Every rule (join, relay, room-full, peer-left) is in
  ``signaling.Rooms``; this file turns its ``Send``/``Close`` actions into
  WebSocket sends and closes, and names each connection ``p0``, ``p1``, ...
- ``/``: the browser peer's page (``static/index.html`` + ``static/peer.js``),
  so Chromium can load it from the same origin.
- ``/config``: the ``RTCConfiguration`` the page hands to ``new RTCPeerConnection()``:
  ``{"iceServers": [{"urls": [...], "username": ..., "credential": ...}],
  "iceTransportPolicy": "all" | "relay"}`` (W3C WebRTC §4.2.1), from the
  ``--ice-*`` options.  Without them: no ICE servers, policy ``all``.  The
  credential is readable by anyone who can load the page; production hands
  out short-lived ones (see the README).

The server never parses SDP: it relays opaque text.  Media and data never pass
through it; once the peers are connected it could go away (only a renegotiation
or an ICE restart would need it again).
"""

from __future__ import annotations

import argparse
import itertools
import json
from importlib import resources
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from starlette.responses import FileResponse, Response

from wirelab_common.asgi_server import TracedServer, config, run_server
from wirelab_common.ports import ensure_port_free
from wirelab_common.server_cli import add_server_options
from wirelab_common.wiretrace import Trace

from .signaling import MAX_FRAME, ROOM_SIZE, Close, Rooms, Send, agent_name, describe, summary

STATIC = resources.files("learn_webrtc") / "static"


def rtc_configuration(servers: list[str], username: str | None = None, credential: str | None = None,
                      policy: str = "all") -> dict[str, Any]:
    """The browser's RTCConfiguration dictionary: one RTCIceServer for ``servers``, if any."""
    ice_servers: list[dict[str, Any]] = []
    if servers:
        server: dict[str, Any] = {"urls": list(servers)}
        if username is not None:
            server.update(username=username, credential=credential or "")
        ice_servers.append(server)
    return {"iceServers": ice_servers, "iceTransportPolicy": policy}


def create_app(trace: Trace, rtc_config: dict[str, Any] | None = None, room_size: int = ROOM_SIZE) -> FastAPI:
    app = FastAPI(title="learn_webrtc signaling")
    rtc_config = rtc_config or rtc_configuration([])
    rooms = Rooms(room_size)
    sockets: dict[str, WebSocket] = {}
    names: dict[str, str | None] = {}  # p0 -> "alice": for the structured events' peer
    # The structured events' cid: a message's number on its connection, c1, c2 ... from the
    # client, s1, s2 ... from us (signaling_client.py counts the same way).
    counts: dict[str, list[int]] = {}
    ids = itertools.count()
    app.state.rooms = rooms

    async def perform(actions: list[Send | Close]) -> None:
        for action in actions:
            ws = sockets.get(action.peer)
            if ws is None:
                continue  # that peer is already gone
            if isinstance(action, Send):
                text = json.dumps(action.message)
                counts[action.peer][1] += 1
                trace.sent(f"{action.peer:<3} {summary(action.message, 110)}",
                           action.message.get("sdp", "").splitlines(), peer=names.get(action.peer),
                           cid=f"s{counts[action.peer][1]}")
                try:
                    await ws.send_text(text)
                except (WebSocketDisconnect, RuntimeError, OSError):
                    # Gone between our lookup and the send (uvicorn raises ClientDisconnected, an
                    # OSError): say so, since the '>' above did not cross the wire.  The sender's
                    # connection is not to blame; the gone peer's own handler cleans up.
                    trace.state(f"{action.peer:<3} not delivered: {summary(action.message, 110)}"
                                " (its connection had closed)")
            else:
                trace.state(f"{action.peer:<3} close {action.code} ({action.reason})")
                sockets.pop(action.peer, None)
                await ws.close(action.code, action.reason)

    @app.websocket("/ws")
    async def signal(ws: WebSocket) -> None:
        await ws.accept()
        peer = f"p{next(ids)}"
        sockets[peer] = ws
        names[peer], counts[peer] = agent_name(ws.headers.get("user-agent")), [0, 0]  # as it names itself
        host, port = ws.client or ("?", 0)
        trace.state(f"{peer:<3} connected from {host}:{port}")
        await perform(rooms.connect(peer))
        try:
            while peer in sockets:
                text = await ws.receive_text()
                counts[peer][0] += 1
                trace.received(f"{peer:<3} {describe(text, 110)}", peer=names.get(peer),
                               cid=f"c{counts[peer][0]}")
                await perform(rooms.receive(peer, text))
        except WebSocketDisconnect as exc:
            trace.state(f"{peer:<3} disconnected (code {exc.code})")
        except KeyError:  # a binary frame: receive_text() finds no "text"
            trace.state(f"{peer:<3} sent a binary frame: close 1003")
            await ws.close(1003, "text frames only")
        finally:
            sockets.pop(peer, None)
            room = rooms.room_of.get(peer)
            actions = rooms.disconnect(peer)
            if room is not None:
                trace.state(f"{peer:<3} left room {room!r}; slot free")
            await perform(actions)
            names.pop(peer, None)
            counts.pop(peer, None)

    @app.get("/")
    async def page() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"), media_type="text/html")

    @app.get("/peer.js")
    async def script() -> FileResponse:
        return FileResponse(str(STATIC / "peer.js"), media_type="text/javascript")

    @app.get("/config")
    async def ice_config() -> dict[str, Any]:
        return rtc_config

    @app.get("/favicon.ico")
    async def no_icon() -> Response:
        return Response(status_code=204)  # browsers ask; a 404 would be noise in the console

    return app


async def serve(args: argparse.Namespace) -> None:
    trace = Trace("signal", verbose=args.verbose, quiet=args.quiet)
    ensure_port_free(args.host, args.port)
    rtc_config = rtc_configuration(args.ice_server, args.ice_username, args.ice_credential,
                                   args.ice_transport_policy)
    app = create_app(trace, rtc_config, args.room_size)
    cfg = config(app, args.host, args.port, ws="websockets-sansio", ws_max_size=MAX_FRAME,
                 ws_ping_interval=5.0, ws_ping_timeout=5.0)

    def describe(host: str, port: int) -> list[str]:
        return [f"WebSocket ws://{host}:{port}/ws", f"browser page http://{host}:{port}/",
                f"ICE servers for the page {[u for s in rtc_config['iceServers'] for u in s['urls']]}, "
                f"policy {rtc_config['iceTransportPolicy']}"]

    await TracedServer(cfg, trace, describe).serve()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_webrtc.signaling_server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_options(parser, port=8800)
    parser.add_argument("--room-size", type=int, default=ROOM_SIZE,
                        help=f"peers per room (default {ROOM_SIZE}: a call between two)")
    parser.add_argument("--ice-server", action="append", default=[], metavar="URL",
                        help="a stun: or turn: URL for the browser page (repeatable)")
    parser.add_argument("--ice-username", help="the TURN user for those URLs")
    parser.add_argument("--ice-credential", help="the TURN password")
    parser.add_argument("--ice-transport-policy", choices=["all", "relay"], default="all",
                        help="relay: the page uses TURN relay candidates only")
    args = parser.parse_args(argv)
    run_server(lambda: serve(args), args.loop)


if __name__ == "__main__":
    main()
