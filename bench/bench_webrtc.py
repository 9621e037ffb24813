"""Benchmark: WebRTC data channel (aiortc) beside a plain asyncio TCP socket, in the same run.

    make bench-webrtc     # .venv/bin/python bench/bench_webrtc.py [--mib 16] [--rounds 3] [--setups 10]

Two figures, each beside its TCP anchor:

- **throughput**: N MiB in 16 KiB messages from alice to bob, reliable and
  ordered (SCTP over DTLS over UDP, with the sender's bufferedAmount flow
  control), vs the same bytes in 16 KiB writes over a loopback TCP connection
  (asyncio streams, ``drain()`` as flow control).  Also through coturn
  (relay-only) when ``turnserver`` is installed.
- **setup time**: from bob's ``join`` (the moment alice learns of him and
  offers) to "the data channel is open" at alice: signaling round trips, ICE
  checks, DTLS handshake, SCTP association, DCEP open; median of N, vs a TCP
  connect (the 3-way handshake) on loopback.

Both peers and both TCP ends run in this one process and event loop, so the
figures compare the protocol stacks, not the scheduling across CPUs.
The target (bench/README.md): setup within 1.5x of Chromium <-> Chromium in the same run;
this benchmark has no Chromium pair yet, so its ratios (to TCP) are for orientation only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import shutil
import statistics
import sys
import time

from learn_webrtc.chat import drain
from learn_webrtc.peer import LAB_HOST, Peer, configuration, lab_timers, open_channel, restrict_host_addresses
from learn_webrtc.turn import coturn
from wirelab_common.processes import start_server
from wirelab_common.wiretrace import Trace

MESSAGE = 16 * 1024
QUIET = Trace("", stream=io.StringIO())  # the per-message trace would measure print()
ROOMS = iter(range(10**6))


async def connected_pair(url: str, config=None) -> tuple[Peer, Peer, object, object, float]:
    alice = Peer("alice", url, f"bench{next(ROOMS)}", QUIET, config)
    bob = Peer("bob", url, alice.room, QUIET, config)
    chat = alice.pc.createDataChannel("bench")
    await alice.join()
    started = time.perf_counter()  # bob's join makes alice offer at once
    await bob.join()
    await open_channel(chat, 30)
    elapsed = time.perf_counter() - started
    inbox = await bob.channel("bench", 30)
    return alice, bob, chat, inbox, elapsed


async def channel_throughput(url: str, total: int, config=None) -> float:
    alice, bob, chat, inbox, _ = await connected_pair(url, config)
    try:
        chat.bufferedAmountLowThreshold = 256 * 1024
        payload = b"x" * MESSAGE
        started = time.perf_counter()

        async def receive() -> None:
            got = 0
            while got < total:
                got += len(await inbox.next(30))

        receiver = asyncio.create_task(receive())
        for _ in range(total // MESSAGE):
            if chat.bufferedAmount > 1024 * 1024:
                await drain(chat)
            chat.send(payload)
        await receiver
        return total / (time.perf_counter() - started) / 2**20
    finally:
        await alice.close()
        await bob.close()


async def tcp_throughput(total: int) -> float:
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got = 0
        while got < total:
            chunk = await reader.read(256 * 1024)
            if not chunk:
                break
            got += len(chunk)
        done.set()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        payload = b"x" * MESSAGE
        started = time.perf_counter()
        for _ in range(total // MESSAGE):
            writer.write(payload)
            await writer.drain()
        await done.wait()
        elapsed = time.perf_counter() - started
        writer.close()
        return total / elapsed / 2**20
    finally:
        server.close()


async def setup_times(url: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        alice, bob, _, _, elapsed = await connected_pair(url)
        times.append(elapsed)
        await alice.close()
        await bob.close()
    return times


async def tcp_connect_times(count: int) -> list[float]:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    times = []
    for _ in range(count):
        started = time.perf_counter()
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        times.append(time.perf_counter() - started)
        writer.close()
    server.close()
    return times


async def main(args: argparse.Namespace) -> None:
    restrict_host_addresses([LAB_HOST])
    lab_timers()
    total = args.mib * 2**20
    argv = [sys.executable, "-m", "learn_webrtc.signaling_server", "--port", "0", "-q"]
    with start_server(argv, name="signal") as server:
        url = server.url.replace("http://", "ws://") + "/ws"
        rows = {"data channel": [], "TCP socket": [], "data channel via coturn": []}
        relay = coturn() if shutil.which("turnserver") else contextlib.nullcontext()
        with relay as turn:
            for _ in range(args.rounds):  # alternate, so drift hits both alike
                rows["data channel"].append(await channel_throughput(url, total))
                rows["TCP socket"].append(await tcp_throughput(total))
                if turn is not None:
                    config = configuration(turn.server, relay_only=True)
                    rows["data channel via coturn"].append(await channel_throughput(url, total, config))
        setups = await setup_times(url, args.setups)
    connects = await tcp_connect_times(args.setups)

    print(f"# throughput: {args.mib} MiB in {MESSAGE // 1024} KiB messages, one process, "
          f"{args.rounds} rounds (median)")
    tcp = statistics.median(rows["TCP socket"])
    for name, values in rows.items():
        if values:
            rate = statistics.median(values)
            print(f"{name:<28} {rate:9.1f} MiB/s   x{rate / tcp:.3f} of TCP")
    print(f"\n# setup: offer -> data channel open vs TCP connect, {args.setups} times (median, p90)")
    for name, values in (("data channel (signaling+ICE+DTLS+SCTP)", setups), ("TCP connect", connects)):
        ordered = sorted(values)
        p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
        print(f"{name:<40} {1000 * statistics.median(values):8.2f} ms  p90 {1000 * p90:8.2f} ms")
    print(f"data channel setup / TCP connect  x{statistics.median(setups) / statistics.median(connects):.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--setups", type=int, default=10)
    asyncio.run(main(parser.parse_args()))
