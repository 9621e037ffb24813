"""sse benchmark: a burst of events to 1,000 subscribers, ours beside a plain Starlette stream.

    make bench-sse                  (or: python bench/bench_sse.py [--quick] [--rounds N] [--plain])

Both servers run in their own process with the same uvicorn settings, and both
are driven by the same lean subscribers: raw asyncio connections that send one
``GET /events`` and count a marker in the bytes that come back (no parsing, so
the client costs the same on both sides).  Each round: every subscriber
connects, one warm-up event proves every stream is live, then a burst of events
is published with ``POST /publish`` and the clock runs until every subscriber
has every event.  Rounds alternate baseline and ours; the median is reported.

What ours does on top of the baseline is exactly what the ratio prices: every
event is committed to SQLite (WAL, synchronous=FULL) before it is sent, every
subscriber keeps a cursor into a bounded replay window, events carry ids and
types, and each stream has heartbeats and disconnect bookkeeping.

Beside each rate, the server's CPU time per delivered event (from /proc, during
the burst), which moves less than the rate when other processes load the machine.

``--plain`` adds a third server: ours with ``--plain-response`` (sse-starlette's
own response class and the lesson's log bell instead of ``fast_response.py``'s
and ``fast_log.py``'s), to price the fast path.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from wirelab_common.bench_report import report
from wirelab_common.ports import free_port
from wirelab_common.processes import ManagedProcess, start_process, start_server
from wirelab_common.waiting import eventually_async

HERE = Path(__file__).resolve().parent
MARKER = b"bench-evt"


def start(kind: str, data_dir: str) -> tuple[ManagedProcess, int]:
    if kind in ("ours", "plain"):  # --port 0: the ready line names the port
        proc = start_server([sys.executable, "-m", "learn_sse.server", "--port", "0", "--data-dir",
                             data_dir, "--tick", "0", "--heartbeat", "3600", "--replay", "100000",
                             "--quiet", *(["--plain-response"] if kind == "plain" else [])], name=kind)
        return proc, proc.port
    port = free_port()  # the anchor takes a port and says nothing
    argv = [sys.executable, str(HERE / "bench_sse_peers.py"), str(port)]
    return start_process(argv, name=kind, ready_line=r"listening on http://", ready_port=port), port


async def subscribe(port: int, want: int, counts: list[int], index: int, opened: asyncio.Event) -> None:
    """One subscriber: count MARKER in the raw stream until ``want`` events arrived."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n"
                 f"Cache-Control: no-cache\r\n\r\n".encode())
    await reader.readuntil(b"\r\n\r\n")
    opened.set()
    tail = b""
    try:
        while counts[index] < want:
            chunk = await reader.read(65536)
            if not chunk:
                raise ConnectionError("stream ended early")
            data = tail + chunk
            counts[index] += data.count(MARKER)
            tail = data[-(len(MARKER) - 1):]  # a marker split across two reads is counted once
    finally:
        writer.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (proc(5): fields 14 and 15 of /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def one_round(port: int, subscribers: int, events: int, pid: int | None = None) -> tuple[float, float]:
    """(events delivered per second, server CPU us per delivered event) for one burst."""
    counts = [0] * subscribers
    tasks = []
    for i in range(subscribers):
        opened = asyncio.Event()
        tasks.append(asyncio.create_task(subscribe(port, events + 1, counts, i, opened)))
        await asyncio.wait_for(opened.wait(), 10)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        payload = {"type": "tick", "data": {"note": MARKER.decode(), "pad": "x" * 60}}
        await http.post("/publish", json=payload)  # warm-up: proves every stream is live
        await eventually_async(lambda: min(counts) >= 1, 30, f"all {subscribers} streams live", interval=0.01)
        start_time, start_cpu = time.perf_counter(), cpu_seconds(pid) if pid else 0.0
        for n in range(events):
            payload["data"]["n"] = n
            await http.post("/publish", content=json.dumps(payload))
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
        elapsed = time.perf_counter() - start_time
        cpu = cpu_seconds(pid) - start_cpu if pid else 0.0
    return subscribers * events / elapsed, cpu / (subscribers * events) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts: checks the benchmark runs")
    parser.add_argument("--rounds", type=int, help="rounds per server (default 3; 1 with --quick)")
    parser.add_argument("--plain", action="store_true",
                        help="also run ours with --plain-response (no fast path)")
    args = parser.parse_args()
    subscribers, events, rounds = (50, 10, 1) if args.quick else (1000, 100, 3)
    rounds = args.rounds or rounds
    rates: dict[str, list[float]] = {"baseline": [], "ours": [], **({"plain": []} if args.plain else {})}
    cpu: dict[str, list[float]] = {kind: [] for kind in rates}
    for _ in range(rounds):
        for kind in rates:
            with tempfile.TemporaryDirectory() as data_dir:
                proc, port = start(kind, data_dir)
                with proc:
                    rate, cpu_us = asyncio.run(one_round(port, subscribers, events, proc.pid))
                    rates[kind].append(rate)
                    cpu[kind].append(cpu_us)
    base, ours = statistics.median(rates["baseline"]), statistics.median(rates["ours"])
    print(f"# sse burst: {subscribers} subscribers x {events} events, {rounds} rounds (median events/s)")
    for name, kind, median in (("plain Starlette StreamingResponse (anchor)", "baseline", base),
                               ("learn_sse server (sse-starlette, durable)", "ours", ours)):
        print(f"{name:<44}{median:>9.0f}   rounds {[round(r) for r in rates[kind]]}   "
              f"CPU us/event {statistics.median(cpu[kind]):.1f}")
    if args.plain:
        plain = statistics.median(rates["plain"])
        shown = [round(r) for r in rates["plain"]]
        print(f"{'learn_sse server, --plain-response':<44}{plain:>9.0f}   rounds {shown}   "
              f"CPU us/event {statistics.median(cpu['plain']):.1f}")
        print(f"plain / baseline x{plain / base:.2f}   fast / plain x{ours / plain:.2f}")
    ratio = ours / base
    print(f"ours / baseline  x{ratio:.2f} (target >= 1.0)  {'ok' if ratio >= 1.0 else 'MISS'}")
    cpu_ratio = statistics.median(cpu["baseline"]) / statistics.median(cpu["ours"])
    print(f"CPU per event, baseline / ours  x{cpu_ratio:.2f}  (above 1: ours spends less)")
    report("sse", "1,000 subscribers x 100 events", ratio, 1.0,
           anchor="plain Starlette StreamingResponse"
           + ("" if (subscribers, events) == (1000, 100) else f", only {subscribers} x {events}"))


if __name__ == "__main__":
    main()
