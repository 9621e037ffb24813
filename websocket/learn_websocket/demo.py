"""The websocket demo: ``make demo-websocket`` (``python -m learn_websocket.demo [-v]``).

Reading order: read this last; it drives everything else in the folder.

Three acts, each checked, so the demo is also a test (CI runs it as one):

1. **The protocol by hand.**  The hand-rolled echo server and client
   (``server.py``, ``client.py``): the opening handshake with its headers, text
   frames, a message split into continuation frames, a ping and its pong, and
   the closing handshake.  The client's side is always shown in full detail
   (headers and frame bytes): that is the lesson.
2. **A chat across two servers.**  Redis, two chat servers (``chat/server.py``)
   and nginx in front of them.  alice and bob connect through nginx, land on
   different servers, join one room and talk: each message goes through Redis
   pub/sub from one server to the other.
3. **A server restart.**  The server alice is on gets SIGTERM: it closes her
   connection with 1001 (going away); her client backs off, reconnects through
   nginx to the server that is still up, rejoins the room and hears bob again.
   The stopped server comes back on its port and takes new clients.

Exit 0 when every check passed, 1 when one failed, 2 when the machine lacks
something (nginx, redis-server, a free port), with what to do.

``--act N`` runs one act (act 3 needs act 2's servers and clients, so it runs
act 2 first).  One switch per act turns off the mechanism the act shows, and
the act's check must then fail (exit 1, naming what went wrong):
``--no-pong`` (act 1: the server never answers a ping), ``--no-redis``
(act 2: no broker between the servers), ``--no-reconnect`` (act 3: the
clients stay down after the restart).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from typing import Any

from wirelab_common.errors import CheckFailed, check, run_main
from wirelab_common.nginx_proxy import find_nginx
from wirelab_common.processes import ManagedProcess, start_process, start_server
from wirelab_common.redis_server import redis_url
from wirelab_common.wiretrace import Trace

from .chat.client import ChatClient
from .chat.proxy import render_chat_proxy
from .client import connect

PY = sys.executable
ROOM = "lobby"
PONG_TIMEOUT = 3.0


async def act_protocol(trace: Trace, args: argparse.Namespace) -> None:
    trace.banner("Act 1: RFC 6455 by hand -- handshake, frames, ping, close")
    argv = [PY, "-m", "learn_websocket.server", "--port", "0"] + (["-v"] if args.verbose else [])
    if args.no_pong:
        trace.note("--no-pong: the server will not answer pings (RFC 6455 §5.5.3), like a dead peer")
        argv.append("--no-pong")
    with start_server(argv, name="server", echo=True) as server:
        port = server.port
        # fragment_size=12: messages longer than 12 bytes go out as several frames (section 5.4).
        client_trace = Trace("client", verbose=True)
        async with connect(f"ws://127.0.0.1:{port}/", trace=client_trace, fragment_size=12) as ws:
            accept = ws.opening.response.headers.get("sec-websocket-accept")
            check(accept, "the 101 response carried no Sec-WebSocket-Accept")
            trace.note(f"the server proved it read our key: Sec-WebSocket-Accept {accept}")
            for text in ("hello", "a message in three fragments"):
                await ws.send(text)
                echoed = await ws.recv()
                check(echoed == text, f"echo mismatch: sent {text!r}, got {echoed!r}")
            await ws.send(b"\x00\x01binary")
            check(await ws.recv() == b"\x00\x01binary", "binary echo mismatch")
            try:
                await asyncio.wait_for(ws.ping(b"are you there"), PONG_TIMEOUT)
            except TimeoutError:
                raise CheckFailed(f"no pong within {PONG_TIMEOUT:g} s: the server did not answer "
                                  "our ping, so we cannot tell it is alive") from None
            trace.note("the pong came back with the ping's payload: the connection is alive")
        check(ws.close_code == 1000, f"expected close code 1000, got {ws.close_code}")


async def new_client(name: str, url: str, trace: Trace, seed: int, reconnect: bool = True) -> ChatClient:
    client = ChatClient(url, f"{name}-token", name=name, trace=trace.child(name),
                        backoff_base=0.2, backoff_max=2.0, rng=random.Random(seed), reconnect=reconnect)
    await client.start()
    return client


def is_message_from(sender: str, text: str):
    return lambda m: m.get("type") == "message" and m.get("from") == sender and m.get("text") == text


async def expect(client: ChatClient, predicate: Any, what: str, timeout: float = 5.0) -> dict[str, Any]:
    """The first message matching ``predicate``, or a failed check that says what never came."""
    try:
        return await client.wait_for(predicate, timeout=timeout)
    except TimeoutError:
        raise CheckFailed(f"{client.name}: {what}, not within {timeout:g} s") from None


async def act_chat(trace: Trace, args: argparse.Namespace) -> None:
    trace.banner("Act 2: two chat servers behind nginx, rooms shared through Redis")
    verbose = args.verbose
    nginx = find_nginx()
    with redis_url() as url:
        trace.state(f"redis at {url}")
        broker = [] if args.no_redis else ["--redis-url", url]
        if args.no_redis:
            trace.note("--no-redis: each chat server keeps its rooms to itself (no broker between them)")
        ports = {"s1": 0, "s2": 0}  # 0: each picks a free port; a restart takes the same one again

        def start_chat(server_id: str) -> ManagedProcess:
            argv = [PY, "-m", "learn_websocket.chat.server", "--port", str(ports[server_id]),
                    "--server-id", server_id, *broker] + (["-v"] if verbose else [])
            proc = start_server(argv, name=server_id, echo=True)
            ports[server_id] = proc.port
            return proc

        servers = {sid: start_chat(sid) for sid in list(ports)}
        setup = render_chat_proxy([("127.0.0.1", p) for p in ports.values()], nginx=nginx)
        clients: list[ChatClient] = []
        try:
            with start_process(setup.argv, name="nginx", ready_port=setup.port, echo=True):
                trace.state(f"nginx on {setup.url()} balances /ws over s1 and s2 (round robin)")
                try:
                    for seed, name in enumerate(("alice", "bob"), start=1):
                        clients.append(await new_client(name, setup.ws_url(), trace, seed,
                                                        reconnect=not args.no_reconnect))
                    await talk_across_servers(trace, *clients)
                    if args.act in (None, 3):
                        await act_restart(trace, *clients, servers, start_chat)
                finally:
                    for client in clients:
                        await client.close()
        finally:
            for proc in servers.values():
                proc.stop()
            setup.remove()


async def talk_across_servers(trace: Trace, alice: ChatClient, bob: ChatClient) -> None:
    check(alice.server_id != bob.server_id,
          f"expected nginx to spread alice and bob, both are on {alice.server_id}")
    trace.note(f"alice is on {alice.server_id}, bob on {bob.server_id}")
    await alice.join(ROOM)
    await bob.join(ROOM)
    await alice.say(ROOM, "hi bob")
    got = await expect(bob, is_message_from("alice", "hi bob"),
                       f"alice's 'hi bob' never crossed from {alice.server_id} to {bob.server_id}")
    check(got["server"] == alice.server_id, f"message should come from {alice.server_id}: {got}")
    await bob.say(ROOM, "hi alice, from the other server")
    await expect(alice, is_message_from("bob", "hi alice, from the other server"),
                 f"bob's answer never crossed from {bob.server_id} to {alice.server_id}")
    # The room includes its sender: bob's own copy comes back through Redis too (on a loaded
    # machine it may arrive after alice's, so wait for it before the act ends).
    await expect(bob, is_message_from("bob", "hi alice, from the other server"),
                 f"bob's answer never came back to him through {bob.server_id}")
    trace.note("both directions crossed servers through Redis pub/sub")


async def act_restart(trace: Trace, alice: ChatClient, bob: ChatClient,
                      servers: dict[str, ManagedProcess], start_chat: Any) -> None:
    trace.banner("Act 3: the server alice is on restarts; her client reconnects and rejoins")
    victim = alice.server_id
    trace.note(f"SIGTERM to {victim}: it closes every client with 1001 (going away) before exiting")
    code = servers[victim].stop()
    check(code == 0, f"{victim} should exit 0 on SIGTERM, exited {code}")
    await expect(alice, lambda m: m.get("type") == "welcome",
                 f"alice never came back after {victim} closed her connection (no reconnect)", timeout=10)
    check(alice.last_close is not None and alice.last_close[0] == 1001,
          f"alice should have seen close 1001, saw {alice.last_close}")
    await alice.wait_for(lambda m: m.get("type") == "joined" and m.get("user") == "alice", timeout=5)
    trace.note(f"alice is back (connection #{alice.connects}, now on {alice.server_id}) "
               f"after waiting {', '.join(f'{d:.2f} s' for d in alice.delays)}")
    await bob.say(ROOM, "welcome back")
    await alice.wait_for(is_message_from("bob", "welcome back"))
    servers[victim] = start_chat(victim)
    trace.note(f"{victim} is up again on the same port; new connections may land on it")
    carol = await new_client("carol", alice.url, trace, seed=3)
    try:
        await carol.join(ROOM)
        await carol.say(ROOM, "hello from carol")
        for listener in (alice, bob):
            await listener.wait_for(is_message_from("carol", "hello from carol"))
    finally:
        await carol.close()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_websocket.demo",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="frames and headers on every side")
    parser.add_argument("--act", type=int, choices=(1, 2, 3),
                        help="run one act (3 sets up act 2 first); default: all three")
    switches = parser.add_argument_group("switches that turn off what an act shows (its check then fails)")
    switches.add_argument("--no-pong", action="store_true", help="act 1: the echo server never answers pings")
    switches.add_argument("--no-redis", action="store_true",
                          help="act 2: the chat servers share no broker, so rooms do not cross servers")
    switches.add_argument("--no-reconnect", action="store_true",
                          help="act 3: the clients do not reconnect after the server closes them")
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    trace = Trace("demo", verbose=args.verbose)
    if args.act in (None, 1):
        await act_protocol(trace, args)
    if args.act in (None, 2, 3):
        await act_chat(trace, args)
    trace.banner("all checks passed")


if __name__ == "__main__":
    run_main(main)
