"""The measurement lab: the six methods against one schedule, side by side.

    python -m learn_choose.lab [--quick] [--out choose/docs] [--methods sse,websocket]

For each method, in turn (never two at once, so they do not share the 2 cores):

1. **latency and bytes**: a fresh server, one client through :class:`CountingRelay`,
   the schedule (bursts of 3 events, about ``GAP`` s apart); latency is the client's
   arrival time minus the event's ``made``; bytes are everything the relay saw,
   both ways, connection setup and idle polls included, per event made;
2. **idle requests per minute**: the same client while nothing happens, counted
   at the server (the lab server holds a long poll ``HOLD`` s);
3. **nginx**: the schedule again through nginx with its default settings and
   with tuned ones (``nginx/*.conf.template``), and a long poll through a
   default nginx whose read timeout is shortened to stand for the 60 s default;
4. **restart**: the server stops (SIGTERM) and comes back on the same port and
   data directory mid-schedule: what the client lost;
5. **scale** (``scale.py``): a fresh server per size, N idle clients (bare sockets
   that open the request, stream, WebSocket or subscription and then sit), and the
   server's RSS and file descriptors from /proc, minus the same before they came.

Writes (``report.py``) ``lab.md`` (the table, stamped with when and where), ``lab.json`` and
``lab.svg`` into ``--out``; prints the table.  ``--quick`` (the demo's, about 30 s) runs steps 1
and 3 only, with 3 bursts instead of 20 (1 through each nginx instead of 2) and without the
long-poll timeout (no idle requests, restart or scale rows), and writes nothing unless ``--out``
is given.  ``--no-upgrade-headers``
leaves the two ``proxy_set_header`` lines that pass the WebSocket handshake out of the tuned
nginx (the demo uses it to show its check of the tuned row fail).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from importlib.resources import files
from pathlib import Path

import httpx

from wirelab_common.errors import SetupError, run_main
from wirelab_common.nginx_proxy import render_nginx_config
from wirelab_common.processes import ManagedProcess, start_process, start_server
from wirelab_common.waiting import eventually_async
from wirelab_common.wiretrace import Trace

from . import chart
from .methods import METHODS
from .relay import CountingRelay
from .report import embed, markdown
from .scale import scale, stats
from .sink import Sink

HOLD = 5.0  # the lab server's long-poll hold (the server's default is 25 s)
GAP = 0.25  # mean seconds between bursts (each gap drawn from 0.6..1.4 x GAP, the same draws every run)
BURST = 3  # events per burst, made in one step
POLL = 0.5  # short-poll interval
QUICK_BURSTS = 3  # --quick: bursts in the latency step (the full lab: 20)
PROXY_TIMEOUT = 2  # s: the read timeout that stands for nginx's 60 s in the long-poll experiment
REPO_DOCS = Path(__file__).resolve().parents[1] / "docs"


@dataclass
class Row:
    method: str
    events: int = 0
    received: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    bytes_per_event: float | None = None
    idle_rpm: float | None = None
    scale: dict[int, dict[str, float]] = field(default_factory=dict)  # N -> {rss_kib, fds} per client
    nginx_default: str = ""
    nginx_tuned: str = ""
    nginx_timeout: str = ""
    restart: str = ""
    browser: str = ""


# ---------------------------------------------------------------------------------------- servers

class Lab:
    def __init__(self, quick: bool, trace: Trace, upgrade_headers: bool = True) -> None:
        self.quick, self.trace, self.upgrade_headers = quick, trace, upgrade_headers
        self.tmp = Path(tempfile.mkdtemp(prefix="wirelab-choose-lab-"))
        self.procs: list[ManagedProcess] = []
        self.nginx_dirs: list = []

    def server(self, *args: str, port: int = 0, data: str = "data") -> ManagedProcess:
        proc = start_server([sys.executable, "-m", "learn_choose.server", "-q", "--port", str(port),
                             "--data-dir", str(self.tmp / data), "--hold", str(HOLD), *args], name="choose")
        self.procs.append(proc)
        return proc

    def nginx(self, template: str, upstream_port: int, extra: str = "") -> int:
        source = files("learn_choose").joinpath(f"nginx/{template}.conf.template")
        if template == "tuned" and not self.upgrade_headers:  # the mechanism off: nginx drops Upgrade again
            lines = source.read_text().splitlines(keepends=True)
            source = self.tmp / "tuned-without-upgrade.conf.template"
            source.write_text("".join(line for line in lines if not line.lstrip().startswith(
                ("proxy_set_header Upgrade", "proxy_set_header Connection"))))
        setup = render_nginx_config(source, upstream=f"127.0.0.1:{upstream_port}", extra=extra)
        self.procs.append(start_process(setup.argv, name="nginx", ready_port=setup.port))
        self.nginx_dirs.append(setup)
        return setup.port

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        for setup in self.nginx_dirs:
            setup.remove()
        subprocess.run(["rm", "-rf", str(self.tmp)], check=False)


async def publish(port: int, bursts: int) -> None:
    """The schedule: ``bursts`` bursts of ``BURST`` events.  The gaps vary (seeded, so every method
    gets the same ones): with a fixed gap, a poller's phase against the bursts would decide its latency."""
    gaps = random.Random(28)
    async with httpx.AsyncClient(timeout=5) as http:
        for _ in range(bursts):
            (await http.post(f"http://127.0.0.1:{port}/publish", params={"count": BURST})).raise_for_status()
            await asyncio.sleep(GAP * gaps.uniform(0.6, 1.4))


def options(method: str) -> dict:
    return {"interval": POLL} if method == "short-poll" else {"hold": HOLD} if method == "long-poll" else {}


class Client:
    """One method's client, running in this event loop, optionally through a relay or proxy."""

    def __init__(self, method: str, base: str, expose=None, since: int = 0) -> None:
        self.method = method
        self.sink = Sink(method, Trace(method, quiet=True), cursor=since)  # live from ``since`` on
        self.stop = asyncio.Event()
        extra = options(method) | ({"expose": expose} if expose else {})
        self.task = asyncio.ensure_future(METHODS[method].receive(base, self.sink, self.stop, **extra))

    async def wait_last(self, last: int, timeout: float) -> bool:
        with contextlib.suppress(AssertionError):
            await eventually_async(lambda: self.sink.cursor >= last or self.task.done(), timeout, "last")
        return self.sink.cursor >= last

    async def finish(self) -> None:
        self.stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.task, 10)


async def settled(port: int, method: str, refused=lambda: False) -> None:
    """Until the client holds its request, stream or subscription open (a poller: one poll),
    or ``refused()`` says it will not get in."""
    def ready() -> bool:
        if refused():
            return True
        s = stats(port)
        if method == "short-poll":
            return s["requests"].get("/poll/latest", 0) >= 1
        return s["open"] - 1 + s["subscriptions"] >= 1
    await eventually_async(ready, 10, f"the {method} client connected")


def latencies(sink: Sink) -> list[float]:
    return sorted((arrived - event.made) * 1000 for event, arrived in sink.got)


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


# ------------------------------------------------------------------------------------ experiments

async def latency_and_bytes(lab: Lab, row: Row, port: int, bursts: int) -> None:
    relay = CountingRelay(port)
    relay_port = await relay.start()
    if row.method == "webhook":  # the relay sits between the server and the subscriber's receiver
        async def expose(receiver_port: int) -> str:
            relay.target = ("127.0.0.1", receiver_port)
            return f"http://127.0.0.1:{relay_port}"
        client = Client(row.method, f"http://127.0.0.1:{port}", expose)
    else:
        client = Client(row.method, f"http://127.0.0.1:{relay_port}")  # (a fresh server: nothing to replay)
    await settled(port, row.method)
    before = stats(port)["last"]
    await publish(port, bursts)
    row.events = bursts * BURST
    await client.wait_last(before + row.events, 10)
    row.received = sum(1 for event, _ in client.sink.got if event.seq > before)
    values = latencies(client.sink)
    row.p50_ms, row.p99_ms = percentile(values, 50), percentile(values, 99)
    await client.finish()
    await asyncio.sleep(0.2)
    row.bytes_per_event = relay.total / row.events
    await relay.close()


async def idle_requests(row: Row, port: int, window: float) -> None:
    client = Client(row.method, f"http://127.0.0.1:{port}", since=stats(port)["last"])
    await settled(port, row.method)
    await asyncio.sleep(0.5)
    before = stats(port)["requests"]
    await asyncio.sleep(window)
    after = stats(port)["requests"]
    counted = sum(after.get(p, 0) - before.get(p, 0) for p in after if p != "/stats")
    row.idle_rpm = counted * 60 / window
    await client.finish()


async def through_nginx(lab: Lab, row: Row, port: int, template: str, bursts: int) -> str:
    # Each client starts live from the newest event: a replay of the earlier runs' events would be
    # queued before the new ones (for the webhook, one POST each) and count as their latency.
    since = stats(port)["last"]
    if row.method == "webhook":  # nginx in front of the subscriber, as a receiver's edge would be
        async def expose(receiver_port: int) -> str:
            return f"http://127.0.0.1:{lab.nginx(template, receiver_port)}"
        client = Client(row.method, f"http://127.0.0.1:{port}", expose, since)
    else:
        client = Client(row.method, f"http://127.0.0.1:{lab.nginx(template, port)}", since=since)
    # --quick: a client refused twice with nothing received will not be let in: stop waiting for it.
    def refused() -> bool:
        return lab.quick and client.sink.reconnects >= 2 and client.sink.cursor <= since
    with contextlib.suppress(AssertionError):
        await settled(port, row.method, refused)
    before = stats(port)["last"]
    await publish(port, bursts)
    expected = bursts * BURST if METHODS[row.method].lossless else bursts
    if lab.quick:
        with contextlib.suppress(AssertionError):
            await eventually_async(lambda: client.sink.cursor >= before + bursts * BURST or refused(), 4,
                                   "the last event, or a refusal")
    else:
        await client.wait_last(before + bursts * BURST, 4)
    got = [(e, t) for e, t in client.sink.got if e.seq > before]
    failure = client.sink.last_failure
    await client.finish()
    if not got:
        waited = f"after {client.sink.reconnects} attempts" if lab.quick else "in 4 s"
        return f"FAILS: 0 of {expected} {waited} ({failure[:70]})" if failure else \
            f"HELD: 0 of {expected} in 4 s"
    p50 = statistics.median((t - e.made) * 1000 for e, t in got)
    verdict = "ok" if len(got) >= expected and p50 < 1000 else "DELAYED"
    return f"{verdict}: {len(got)} of {expected}, p50 {p50:.0f} ms"


async def long_poll_timeout(lab: Lab, row: Row) -> None:
    """A long poll held longer than the proxy's read timeout (3 s against 2 s; nginx's default is 60 s)."""
    server = lab.server("--hold", str(PROXY_TIMEOUT + 1.5), data="timeout")
    proxy = lab.nginx("default", server.port, extra=f"proxy_read_timeout {PROXY_TIMEOUT}s;")
    async with httpx.AsyncClient(timeout=10) as http:
        started = time.monotonic()
        response = await http.get(f"http://127.0.0.1:{proxy}/longpoll?since=0")
        row.nginx_timeout = (f"{response.status_code} after {time.monotonic() - started:.1f} s "
                             f"(read timeout {PROXY_TIMEOUT} s < hold {PROXY_TIMEOUT + 1.5} s)")
    server.stop()


async def restart(lab: Lab, row: Row) -> None:
    server = lab.server(data=f"restart-{row.method}")
    port = server.port
    client = Client(row.method, f"http://127.0.0.1:{port}")
    await settled(port, row.method)
    await publish(port, 2)
    await client.wait_last(2 * BURST, 5)
    server.stop()
    again = lab.server(port=port, data=f"restart-{row.method}")
    with contextlib.suppress(AssertionError):
        await settled(port, row.method)
    await publish(port, 2)
    await client.wait_last(4 * BURST, 10)
    seqs = client.sink.seqs
    await client.finish()
    again.stop()
    lost = 4 * BURST - len(seqs)
    how = "coalesced, by design" if not METHODS[row.method].lossless else "resumed from its cursor"
    row.restart = f"lost {lost} of {4 * BURST}" + (f" ({how})" if lost == 0 or how.startswith("co") else "")


# ------------------------------------------------------------------------------------------- the run

async def measure(method: str, lab: Lab, sizes: list[int]) -> Row:
    row = Row(method, browser=METHODS[method].browser)
    bursts = QUICK_BURSTS if lab.quick else 20
    server = lab.server(data=f"main-{method}")
    lab.trace.note(f"{method}: latency and bytes ({bursts * BURST} events)"
                   + ("" if lab.quick else ", idle requests"))
    await latency_and_bytes(lab, row, server.port, bursts)
    if not lab.quick:
        await idle_requests(row, server.port, 2 * HOLD + 0.5)
    lab.trace.note(f"{method}: through nginx, default and tuned")
    nginx_bursts = 1 if lab.quick else 2
    row.nginx_default = await through_nginx(lab, row, server.port, "default", nginx_bursts)
    row.nginx_tuned = await through_nginx(lab, row, server.port, "tuned", nginx_bursts)
    server.stop()
    if lab.quick:  # (the demo's act 2 and the tests check the restart of every method)
        return row
    if method == "long-poll":
        await long_poll_timeout(lab, row)
    lab.trace.note(f"{method}: restart")
    await restart(lab, row)
    lab.trace.note(f"{method}: {', '.join(map(str, sizes))} idle clients")
    await scale(lab, row, sizes)
    return row


def raise_open_files_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def stamp() -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    cpu = os.cpu_count()
    return f"{when} on {platform.node()} ({platform.system()} {platform.release()}, {cpu} cores, Python " \
           f"{platform.python_version()})"


QUICK = (f"quick: {QUICK_BURSTS} bursts per method, then 1 through nginx default and 1 through tuned; no "
         "idle-request, long-poll timeout, restart or scale (RSS, fds) rows; the full lab: make choose-lab")


async def run_lab(quick: bool, methods: list[str], trace: Trace,
                  upgrade_headers: bool = True) -> tuple[list[Row], str, float]:
    raise_open_files_limit()
    sizes = [1, 100, 1000]
    lab = Lab(quick, trace, upgrade_headers)
    if quick:
        trace.note(QUICK)
    rows = []
    started = time.monotonic()
    try:
        for method in methods:
            rows.append(await measure(method, lab, sizes))
    except SetupError:
        raise
    finally:
        lab.close()
    return rows, stamp(), time.monotonic() - started


async def main_async(args: argparse.Namespace) -> None:
    trace = Trace("lab", quiet=args.quiet)
    methods = args.methods.split(",") if args.methods else list(METHODS)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise SetupError(f"unknown method {unknown[0]}", f"choose from {', '.join(METHODS)}")
    rows, made, seconds = await run_lab(args.quick, methods, trace, not args.no_upgrade_headers)
    command = "python -m learn_choose.lab" + (" --quick" if args.quick else "")
    schedule = (f"bursts of {BURST} events about {GAP} s apart (0.6-1.4x, seeded); short-poll interval "
                f"{POLL} s; long-poll hold {HOLD} s")
    text = markdown(rows, made, seconds, command, schedule)
    print(text)
    out = args.out or (None if args.quick else REPO_DOCS)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "lab.md").write_text(text)
        (out / "lab.json").write_text(json.dumps({"made": made, "rows": [asdict(r) for r in rows]}, indent=1))
        (out / "lab.svg").write_text(chart.svg(rows, made))
        readme = out.parent / "README.md"
        if out == REPO_DOCS and readme.exists():
            readme.write_text(embed(readme.read_text(), text))
        trace.note(f"wrote {out}/lab.md, lab.json and lab.svg")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_choose.lab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="3 bursts, nginx default and tuned only, about 25 s (the demo's)")
    parser.add_argument("--no-upgrade-headers", action="store_true",
                        help="the tuned nginx without the lines that pass the WebSocket Upgrade")
    parser.add_argument("--out", type=Path, help="where lab.md, lab.json, lab.svg go (default choose/docs)")
    parser.add_argument("--methods", help="comma-separated subset, e.g. sse,websocket")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args()
    run_main(lambda: main_async(args))


if __name__ == "__main__":
    main()
