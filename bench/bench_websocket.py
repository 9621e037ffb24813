"""websocket benchmark: our servers and codec beside their anchors, in one run.

    make bench-websocket                 (or: python bench/bench_websocket.py [--quick] [--only echo])

Three measurements, each against the anchor named in bench/README.md:

1. Echo round trips, 1 client, 32 B text: the hand-rolled server and the chat
   server against a bare ``websockets`` 17 echo server and an asyncio TCP echo.
   The hand-rolled server runs twice: with its default echo (``echo_fast.py``,
   replies from the protocol callback) and with ``--echo plain`` (the lesson's
   ``echo()`` handler); the chat server too: with its default path per message
   (``chat/fast.py``) and with ``--plain`` (the lesson's, ``chat/hub.py`` alone).
   Beside each rate, the server's CPU time per round trip (from /proc), which
   moves less than the rate when other processes load the machine.
2. Broadcast, 1,000 clients x 100 messages: the chat server's room fan-out
   against ``websockets.broadcast``, again by default and with ``--plain``.
3. Codec: 125 B masked text frames serialized by a client connection and
   parsed by a server connection, ours against ``wsproto``: with the fast frame
   parser (``frames_fast.py``, what connections use by default) and with the
   lesson's (``frames.py``).

Every server runs in its own process (so it has a core of its own, as in
production) and every one is driven by the same lean client below, so the
client's cost is the same on both sides of each ratio.  Rounds are interleaved
(anchor, ours, anchor, ours, ...) and the median is reported, because these
machines drift by 30-40% between runs.  After its own table, each measurement
reports its rows of bench/README.md's targets (``wirelab_common.bench_report``).

What each side sends: in the echo, the chat carries the 32 B as the text of a
``say`` (76 B of JSON) and answers with a ``message`` event (about 125 B), where
the anchors echo the bare 32 B.  In the broadcast, the anchor fans out a JSON
frame as long as the chat's ``message`` event (124 B).  For broadcast, both
servers get their 1,000 clients first (the chat's O(n^2) "joined" notices are all
delivered before anything is timed), then each measured window is one burst of
100 messages, the two servers taking turns.

The chat server runs with ``--quiet`` (no trace line per message), as the
hand-rolled server does, and without Redis (``LocalBroker``: one process, as the
anchors are; a Redis round trip per message would measure Redis, and the anchor
has none), and otherwise as shipped: its default outbox of 256
messages per client and its default event loop (uvloop, as uvicorn picks); the
anchors run as the websockets library ships.  Nothing here asserts a time: a
target missed is printed as MISS, and the README says why.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

from bench_ws_clients import Audience, round_trips

from wirelab_common.bench_report import report
from wirelab_common.processes import ManagedProcess, start_server

HERE = Path(__file__).resolve().parent
PY = sys.executable
TOKEN = "bench-token"


def start(kind: str) -> tuple[ManagedProcess, int]:
    """Start one server process by name on ``--port 0``; return it and the port it names."""
    peers = [PY, str(HERE / "bench_ws_peers.py")]
    chat = [PY, "-m", "learn_websocket.chat.server", "--server-id", "bench", "--token", f"bench={TOKEN}",
            "--ping-interval", "3600", "--quiet"]
    argv = {
        "websockets": [*peers, "ws-echo"],
        "tcp": [*peers, "tcp-echo"],
        "broadcast": [*peers, "ws-broadcast"],
        # --loop asyncio: the anchors run on asyncio's own loop, so the ratio compares code, not loops.
        "hand-rolled": [PY, "-m", "learn_websocket.server", "--loop", "asyncio", "--quiet"],
        "hand-rolled-plain": [PY, "-m", "learn_websocket.server", "--loop", "asyncio", "--quiet",
                              "--echo", "plain"],
        "chat": [*chat],
        "chat-plain": [*chat, "--plain"],
    }[kind]
    proc = start_server([*argv, "--port", "0"], name=kind)
    return proc, proc.port


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (proc(5): fields 14 and 15 of /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_echo(rounds: int, count: int) -> dict[str, dict[str, float]]:
    """Median round trips/s, p50/p99 latency and server CPU us per round trip; rounds interleaved."""
    kinds = ["websockets", "tcp", "hand-rolled", "hand-rolled-plain", "chat", "chat-plain"]
    rates: dict[str, list[float]] = {k: [] for k in kinds}
    cpu: dict[str, list[float]] = {k: [] for k in kinds}
    latencies: dict[str, list[int]] = {k: [] for k in kinds}
    servers = {k: start(k) for k in kinds}
    try:
        for _ in range(rounds):
            for kind, (proc, port) in servers.items():
                before = cpu_seconds(proc.pid)
                rate, lat = round_trips(port, kind, count, TOKEN)
                cpu[kind].append((cpu_seconds(proc.pid) - before) / (count + min(200, count)) * 1e6)
                rates[kind].append(rate)
                latencies[kind].extend(lat)
    finally:
        for proc, _port in servers.values():
            proc.stop()
    result = {}
    for kind in kinds:
        lat = sorted(latencies[kind])
        result[kind] = {"rate": statistics.median(rates[kind]), "p50": lat[len(lat) // 2] / 1000,
                        "p99": lat[int(len(lat) * 0.99)] / 1000, "cpu": statistics.median(cpu[kind])}
    return result


def measure_broadcast(windows: int, clients: int, messages: int) -> dict[str, float]:
    """Median msg/s per server over ``windows`` bursts, interleaved between the two."""
    servers = {kind: start(kind) for kind in ("broadcast", "chat", "chat-plain")}
    try:
        return asyncio.run(_broadcast_windows(servers, windows, clients, messages))
    finally:
        for proc, _port in servers.values():
            proc.stop()


async def _broadcast_windows(servers: dict[str, tuple[ManagedProcess, int]], windows: int, clients: int,
                             messages: int) -> dict[str, float]:
    audiences = {}
    for kind, (_proc, port) in servers.items():
        audiences[kind] = await Audience.open(port, kind, clients, TOKEN)
    rates: dict[str, list[float]] = {kind: [] for kind in audiences}
    try:
        for _ in range(windows):
            for kind, audience in audiences.items():
                rates[kind].append(await audience.window(messages))
    finally:
        for audience in audiences.values():
            audience.close()
    return {kind: statistics.median(r) for kind, r in rates.items()}


def measure_codec(rounds: int, frames: int) -> dict[str, float]:
    """Frames/s through a client and a server Connection: wsproto, ours fast, ours plain."""
    from wsproto import ConnectionType
    from wsproto.connection import Connection as WsprotoConnection
    from wsproto.events import TextMessage

    from learn_websocket.frames import FrameParser
    from learn_websocket.frames_fast import FastFrameParser
    from learn_websocket.protocol import Connection, Role

    text = "x" * 125

    def wsproto_run() -> None:
        client, server = WsprotoConnection(ConnectionType.CLIENT), WsprotoConnection(ConnectionType.SERVER)
        for _ in range(frames):
            server.receive_data(client.send(TextMessage(data=text)))
            for _event in server.events():
                pass

    def ours_run(parser: type[FrameParser]) -> None:
        client, server = Connection(Role.CLIENT), Connection(Role.SERVER, parser=parser)
        for _ in range(frames):
            client.send_text(text)
            server.receive_data(client.data_to_send())
            server.events_received()

    runs = {"wsproto": wsproto_run, "fast": lambda: ours_run(FastFrameParser),
            "plain": lambda: ours_run(FrameParser)}
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run()
            rates[name].append(frames / (time.perf_counter() - t0))
    return {name: statistics.median(r) for name, r in rates.items()}


def verdict(ratio: float, target: float) -> str:
    return f"x{ratio:.2f} (target >= {target})  {'ok' if ratio >= target else 'MISS'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts: checks the benchmark runs")
    parser.add_argument("--only", choices=["echo", "broadcast", "codec"], help="run one measurement")
    args = parser.parse_args()
    if args.quick:
        rounds, count, clients, messages, windows, frames = 1, 200, 50, 10, 5, 2000
    else:
        rounds, count, clients, messages, windows, frames = 5, 3000, 1000, 100, 10, 50000

    if args.only in (None, "echo"):
        print(f"# echo round trips: 1 client, 32 B text, {count} rt x {rounds} rounds (median)")
        echo = measure_echo(rounds, count)
        print(f"{'server':<38}{'rt/s':>9}{'p50 us':>9}{'p99 us':>9}{'CPU us/rt':>11}")
        names = {"websockets": "bare websockets 17 (anchor)", "tcp": "asyncio TCP echo (anchor)",
                 "hand-rolled": "hand-rolled, echo_fast (default)",
                 "hand-rolled-plain": "hand-rolled, --echo plain (lesson)",
                 "chat": "chat server, fast.py (default)",
                 "chat-plain": "chat, --plain (lesson)"}
        for kind, row in echo.items():
            print(f"{names[kind]:<38}{row['rate']:>9.0f}{row['p50']:>9.0f}{row['p99']:>9.0f}{row['cpu']:>11.1f}")
        anchor, tcp = echo["websockets"]["rate"], echo["tcp"]["rate"]
        print(f"hand-rolled / websockets  {verdict(echo['hand-rolled']['rate'] / anchor, 1.2)}")
        print(f"hand-rolled / TCP echo    {verdict(echo['hand-rolled']['rate'] / tcp, 0.9)}")
        print(f"plain echo / websockets   x{echo['hand-rolled-plain']['rate'] / anchor:.2f}  (the lesson)")
        print(f"plain echo / TCP echo     x{echo['hand-rolled-plain']['rate'] / tcp:.2f}  (the lesson)")
        print(f"chat / websockets         {verdict(echo['chat']['rate'] / anchor, 1.0)}")
        print(f"plain chat / websockets   x{echo['chat-plain']['rate'] / anchor:.2f}  (the lesson)")
        report("websocket", "echo, hand-rolled vs websockets", echo["hand-rolled"]["rate"] / anchor, 1.2,
               anchor="websockets 17 echo")
        report("websocket", "echo vs asyncio TCP", echo["hand-rolled"]["rate"] / tcp, 0.9,
               anchor="asyncio TCP echo")
        report("websocket", "chat echo vs websockets", echo["chat"]["rate"] / anchor, 1.0,
               anchor="websockets 17 echo")

    if args.only in (None, "broadcast"):
        print(f"\n# broadcast: {clients} clients x {messages} messages, {windows} windows (median msg/s)")
        fan = measure_broadcast(windows, clients, messages)
        print(f"websockets.broadcast (anchor)     {fan['broadcast']:>9.0f}")
        print(f"chat server room fan-out          {fan['chat']:>9.0f}")
        print(f"chat, --plain (lesson)            {fan['chat-plain']:>9.0f}")
        print(f"chat / websockets.broadcast  {verdict(fan['chat'] / fan['broadcast'], 1.0)}")
        print(f"plain / websockets.broadcast x{fan['chat-plain'] / fan['broadcast']:.2f}  (the lesson)")
        report("websocket", "broadcast, 1,000 clients", fan["chat"] / fan["broadcast"], 1.0,
               anchor="websockets.broadcast")

    if args.only in (None, "codec"):
        print(f"\n# codec: 125 B masked text frames, serialize + parse, {frames} frames x {rounds} rounds")
        codec = measure_codec(rounds, frames)
        print(f"wsproto 1.3 (anchor)              {codec['wsproto']:>9.0f} frames/s")
        print(f"ours, frames_fast (default)       {codec['fast']:>9.0f} frames/s")
        print(f"ours, frames (the lesson)         {codec['plain']:>9.0f} frames/s")
        print(f"fast / wsproto               {verdict(codec['fast'] / codec['wsproto'], 3.0)}")
        print(f"plain / wsproto              x{codec['plain'] / codec['wsproto']:.2f}  (the lesson)")
        report("websocket", "codec vs wsproto", codec["fast"] / codec["wsproto"], 3.0, anchor="wsproto 1.3")


if __name__ == "__main__":
    main()
