"""Benchmark: our WebRTC data channel (aiortc) beside Chromium <-> Chromium, in the same run.

    make bench-webrtc     # .venv/bin/python bench/bench_webrtc.py [--mib 16] [--rounds 3] [--setups 20]
                          #   [--ice fast|plain] [--chromium /usr/bin/chromium]

The anchor (bench/README.md): two headless Chromium pages connected through OUR
signaling server (``bench_webrtc_chromium.py``), measured the same way as our
two aiortc peers, alternately, in one run:

- **setup time**: from the offerer receiving ``peer-joined`` (it then creates
  its offer) to its data channel firing ``open``: offer/answer and trickled
  candidates through the signaling server, ICE checks, DTLS handshake, SCTP
  association, DCEP.  Each side by its own clock (``time.perf_counter`` for
  ours, ``performance.now()`` in the page); also from the offer leaving on the
  WebSocket to ``open``.  N connections each; median and p90.  Target: ours
  within 1.5x of Chromium's median.  Then where the time goes: the median of
  each phase between the offerer's marks (``PHASES``: offer created, answer
  applied, ICE connected or completed, connectionState connected, open).
- **throughput**: N MiB in 16 KiB binary messages on that reliable, ordered
  channel, pausing above 1 MiB queued until ``bufferedamountlow`` (256 KiB);
  ours ends when the receiver has every byte, Chromium's when the sender gets
  the receiver's ``bulk-done`` back (one small message more).  Reported, no target.

Also, for orientation: a loopback TCP connection (throughput, connect time)
and our data channel through coturn (relay-only) when ``turnserver`` is installed.

Same network for both: Chromium gathers no candidates on ``lo`` and none at
all without a default route, so the benchmark re-runs itself in a private
network namespace (``unshare -n``, as root) with a veth pair whose one end
has 198.18.0.1 (RFC 2544's benchmarking range) and carries the default
route; both Chromium and our peers (``restrict_host_addresses``) use that one
address, and the kernel delivers it over ``lo``.  Nothing leaves the namespace.

``--ice fast`` (the default) installs ``learn_webrtc.ice_fast`` (aioice
noticing ICE completion at once instead of at its next 20 ms tick);
``--ice plain`` measures aioice as the lesson uses it.  Without Chromium, or
without root for the namespace, it stops with exit code 2 and says why: the
anchor is the point of this benchmark, it is never skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time

from bench_webrtc_chromium import ChromiumPair, launch

from learn_webrtc import ice_fast
from learn_webrtc.browser import CHROMIUM
from learn_webrtc.chat import drain
from learn_webrtc.netns import can_unshare
from learn_webrtc.peer import Peer, configuration, lab_timers, open_channel, restrict_host_addresses
from learn_webrtc.turn import coturn
from wirelab_common.bench_report import report
from wirelab_common.errors import SetupError, run_main
from wirelab_common.processes import start_server
from wirelab_common.wiretrace import Trace

MESSAGE = 16 * 1024
QUIET = Trace("", stream=io.StringIO())  # the per-message trace would measure print()
ROOMS = iter(range(10**6))
HOST = "198.18.0.1"  # the one address both Chromium and our peers use, inside the namespace
NAMESPACE = (f"ip link set lo up && ip link add wl0 type veth peer name wl1 && ip link set wl1 up && "
             f"ip link set wl0 up && ip addr add {HOST}/24 dev wl0 && ip route add default dev wl0")


async def connected_pair(url: str, config=None) -> tuple[Peer, Peer, object, object, dict[str, float]]:
    """alice and bob connected through the signaling server; alice's marks (perf_counter s)."""
    alice = Peer("alice", url, f"bench{next(ROOMS)}", QUIET, config)
    bob = Peer("bob", url, alice.room, QUIET, config)
    marks: dict[str, float] = {}
    chat = alice.pc.createDataChannel("bench")
    chat.on("open", lambda: marks.setdefault("open", time.perf_counter()))
    pc = alice.pc  # the same marks as the page's window.webrtcTimes (the phases' table)
    pc.on("iceconnectionstatechange", lambda: pc.iceConnectionState in ("connected", "completed")
          and marks.setdefault("iceDone", time.perf_counter()))
    pc.on("connectionstatechange", lambda: pc.connectionState == "connected"
          and marks.setdefault("connected", time.perf_counter()))
    plain_offer = alice._offer  # noqa: SLF001 - the moment peer-joined makes alice offer

    async def offer() -> None:
        marks["peerJoined"] = time.perf_counter()
        await plain_offer()

    alice._offer = offer  # noqa: SLF001
    plain_description = alice._on_description  # noqa: SLF001

    async def on_description(message: dict) -> None:
        await plain_description(message)
        if message["type"] == "answer":
            marks["answerApplied"] = time.perf_counter()

    alice._on_description = on_description  # noqa: SLF001
    await alice.join()
    plain_send = alice.signaling.send

    async def send(message: dict) -> None:
        if message.get("type") == "offer":
            marks["offerSent"] = time.perf_counter()
        await plain_send(message)

    alice.signaling.send = send
    await bob.join()  # alice gets peer-joined and offers
    await open_channel(chat, 30)
    inbox = await bob.channel("bench", 30)
    return alice, bob, chat, inbox, marks


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


PHASES = (  # (from mark, to mark, what happens between), at the offerer
    ("peerJoined", "offerSent", "create the offer"),
    ("offerSent", "answerApplied", "signaling: answer applied"),
    ("answerApplied", "iceDone", "ICE checks"),
    ("iceDone", "connected", "DTLS handshake"),
    ("connected", "open", "SCTP association, DCEP"),
)


async def our_setup(url: str) -> dict[str, float]:
    """One aiortc pair's marks (seconds): peerJoined, offerSent, answerApplied, iceDone, connected, open."""
    alice, bob, _, _, marks = await connected_pair(url)
    await alice.close()
    await bob.close()
    return marks


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


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


async def measure(args: argparse.Namespace) -> dict[str, list]:
    """Every figure, ours and Chromium's alternately (so drift hits both alike)."""
    from playwright.async_api import async_playwright

    total = args.mib * 2**20
    argv = [sys.executable, "-m", "learn_webrtc.signaling_server", "--port", "0", "-q"]
    rows: dict[str, list] = {"data channel (ours)": [], "data channel (Chromium)": [], "TCP socket": [],
                             "data channel via coturn": [], "setup ours": [], "setup Chromium": []}
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(start_server(argv, name="signal"))
        url = server.url.replace("http://", "ws://") + "/ws"
        turn = stack.enter_context(coturn()) if shutil.which("turnserver") else None
        async with async_playwright() as pw:
            browser = await launch(pw, args.chromium)
            try:
                for _ in range(args.rounds):
                    rows["data channel (ours)"].append(await channel_throughput(url, total))
                    async with ChromiumPair(browser, server.url, f"bulk{next(ROOMS)}") as pair:
                        rows["data channel (Chromium)"].append(await pair.throughput(total, MESSAGE))
                    rows["TCP socket"].append(await tcp_throughput(total))
                    if turn is not None:
                        config = configuration(turn.server, relay_only=True)
                        rows["data channel via coturn"].append(await channel_throughput(url, total, config))
                for _ in range(args.setups):
                    rows["setup ours"].append(await our_setup(url))
                    async with ChromiumPair(browser, server.url, f"setup{next(ROOMS)}") as pair:
                        rows["setup Chromium"].append({k: v / 1000 for k, v in pair.times.items()})
            finally:
                await browser.close()
    connects = await tcp_connect_times(args.setups)
    rows["TCP connect"] = [{"peerJoined": 0.0, "offerSent": 0.0, "open": t} for t in connects]
    return rows


def print_and_report(args: argparse.Namespace, rows: dict[str, list]) -> None:
    print(f"# load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}; "
          f"ICE path: {args.ice}; network namespace, both peers on {HOST}")
    print(f"# throughput: {args.mib} MiB in {MESSAGE // 1024} KiB messages, {args.rounds} rounds (median)")
    anchor = statistics.median(rows["data channel (Chromium)"])
    for name in ("data channel (ours)", "data channel (Chromium)", "data channel via coturn", "TCP socket"):
        if rows[name]:
            rate = statistics.median(rows[name])
            print(f"{name:<28} {rate:9.1f} MiB/s   x{rate / anchor:.3f} of Chromium")
    print(f"\n# setup: offerer's peer-joined -> its data channel open, {args.setups} times "
          f"(median, p90; and from the offer sent)")
    for name, label in (("setup ours", "ours (aiortc)"), ("setup Chromium", "Chromium <-> Chromium"),
                        ("TCP connect", "TCP connect (orientation)")):
        whole = [1000 * (m["open"] - m["peerJoined"]) for m in rows[name]]
        sent = statistics.median(1000 * (m["open"] - m["offerSent"]) for m in rows[name])
        tail = f"   offer sent -> open {sent:8.2f} ms" if name != "TCP connect" else ""
        print(f"{label:<28} {statistics.median(whole):8.2f} ms  p90 {p90(whole):8.2f} ms{tail}")
    ours = statistics.median(m["open"] - m["peerJoined"] for m in rows["setup ours"])
    theirs = statistics.median(m["open"] - m["peerJoined"] for m in rows["setup Chromium"])
    print(f"setup ours / Chromium  x{ours / theirs:.2f}   (target <= 1.5)")
    print("\n# where the setup goes, at the offerer (median ms per phase)       ours   Chromium")
    for start, end, what in PHASES:
        cells = [statistics.median(1000 * (m[end] - m[start]) for m in rows[name])
                 for name in ("setup ours", "setup Chromium")]
        print(f"{start} -> {end} ({what})".ljust(62) + "".join(f"{c:9.2f}" for c in cells))
    chromium = f"Chromium {args.chromium_version}"
    report("webrtc", "data channel throughput", statistics.median(rows["data channel (ours)"]) / anchor, None,
           anchor=chromium)
    report("webrtc", "setup time", ours / theirs, 1.5, better="lower", anchor=chromium)


async def inside(args: argparse.Namespace) -> None:
    restrict_host_addresses([HOST])
    lab_timers()
    if args.ice == "fast":
        ice_fast.install()
    print_and_report(args, await measure(args))


def outside(args: argparse.Namespace) -> None:
    """Fail loudly without the anchor; otherwise re-run inside a private network namespace."""
    if not os.path.exists(args.chromium):
        raise SetupError(f"{args.chromium} missing: the Chromium <-> Chromium anchor cannot run",
                         "make system-deps, or apt-get install chromium (never `playwright install`)")
    why = can_unshare()
    if why:
        raise SetupError(f"{why}: the benchmark needs its own network namespace for Chromium",
                         "run as root (make bench does), or in a container with CAP_SYS_ADMIN")
    version = subprocess.run([args.chromium, "--version"], capture_output=True, text=True, timeout=60)
    inner = [sys.executable, *sys.argv, "--inside", "--chromium-version", version.stdout.split()[1]]
    result = subprocess.run(["unshare", "-n", "sh", "-c", f"{NAMESPACE} && exec {shlex.join(inner)}"])
    sys.exit(result.returncode)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--setups", type=int, default=20)
    parser.add_argument("--ice", choices=("fast", "plain"), default="fast",
                        help="fast: learn_webrtc.ice_fast (default); plain: aioice as the lesson uses it")
    parser.add_argument("--chromium", default=CHROMIUM, help="the Chromium binary (the anchor)")
    parser.add_argument("--inside", action="store_true", help="already in the namespace (internal)")
    parser.add_argument("--chromium-version", default="?", help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    run_main((lambda: inside(parsed)) if parsed.inside else (lambda: outside(parsed)))
