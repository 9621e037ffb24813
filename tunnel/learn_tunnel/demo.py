"""The tunnel demo: ``make demo-tunnel`` (``python -m learn_tunnel.demo [-v]``).

Reading order: read this last; it drives everything else in the folder.

It starts the local app, the relay and the agent as processes (their trace
lines are shown, prefixed by who printed them), then four acts, each checked:

1. **A public URL for a local app.**  The app listens on loopback only; the
   agent dialled out to the relay; a request to the relay's public port, by
   ``NAME.localhost`` and by ``/t/NAME/``, reaches the app, which sees
   X-Forwarded-For.  An unknown name gets 404.
2. **Two requests interleaved on one connection.**  A slow request is sent,
   then a quick one: the quick one's frames pass the slow one's and it is
   answered first.  ``--no-multiplexing`` makes the relay handle one request
   at a time (``--serial``), and the quick request waits.
3. **Flow control.**  A large download is read slowly.  Window updates
   only come as the public client reads, so the agent stops sending and,
   through httpx and TCP, the app stops producing: the app is checked to
   have produced only a little more than the client read.  Small requests
   pass meanwhile.  ``--no-flow-control`` gives both ends a 2 GiB window:
   the app produces the whole body at once into the relay's memory.
4. **Agent and relay failures.**  The agent is killed (SIGKILL) during a
   request: the public client gets a 502 at once, not a hang.  A new agent
   registers the name again.  Then the relay restarts, and the agent
   reconnects after a backoff and registers again.  ``--no-reconnect`` starts
   that agent with ``--no-reconnect``: it leaves, and the URL stays dead.
5. **Socket Mode.**  Two agents of app ``bot`` dial ``/socket?app=bot`` and
   share one SQLite store.  Eleven events are posted; one asks for more work
   than the 1 s ack deadline, so the relay sends it again to the other agent:
   it is processed once all the same (the store skips the second).  Then
   one agent is killed while it holds envelopes: they go to the other one.
   Every event is checked to have exactly one effect, and both agents to
   have done some.  ``--no-dedupe`` starts the agents without the check:
   the slow event's effect is written twice.
6. **A WebSocket through the tunnel.**  The ``websockets`` client opens
   ``ws://…/t/demo/ws`` on the relay; the relay accepts only once the agent's
   own WebSocket to the app was accepted, then messages go both ways as DATA
   frames, and the app's close code (4000) reaches the client.
   ``--no-websocket`` starts the relay with ``--no-websocket`` (it refuses
   upgrades), and the act fails.

Exit 0 when every check passed, 1 when one failed (with what went wrong).
``--act N`` runs one act.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import os
import re
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from wirelab_common.errors import CheckFailed, check, run_main
from wirelab_common.processes import ManagedProcess, start_process, start_server
from wirelab_common.waiting import eventually
from wirelab_common.wiretrace import Trace

PY = sys.executable
NAME = "demo"
TOKEN = "demo-token"
AGENT_PORT = r"agents connect to ws://127\.0\.0\.1:(\d+)/connect"
HUGE_WINDOW = 2**31 - 1


class Lab:
    """The three processes, and how to reach the tunnel."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.app = start_server([PY, "-m", "learn_tunnel.app", "--port", "0", "-q"], name="app", echo=True)
        self.relay = self.start_relay(0, 0)
        self.agent = self.start_agent()

    def window(self) -> list[str]:
        return ["--window", str(HUGE_WINDOW)] if self.args.no_flow_control else []

    def start_relay(self, port: int, agent_port: int) -> ManagedProcess:
        argv = [PY, "-m", "learn_tunnel.relay", "--port", str(port), "--agent-port", str(agent_port),
                "--token", TOKEN, "--response-timeout", "3", "--ack-deadline", "1", *self.window()]
        argv += ["--serial"] if self.args.no_multiplexing else []
        argv += ["--no-websocket"] if self.args.no_websocket else []
        argv += ["--frames"] if self.args.verbose else []
        relay = start_server(argv, name="relay", echo=True)
        self.agent_port = int(relay.wait_line(AGENT_PORT, 0).group(1))
        return relay

    def start_agent(self, *extra: str) -> ManagedProcess:
        argv = [PY, "-m", "learn_tunnel.agent", "--relay", f"ws://127.0.0.1:{self.agent_port}",
                "--name", NAME, "--to", self.app.url, "--token", TOKEN, *self.window(), *extra]
        return start_process(argv, name="agent", ready_line="registered as", echo=True)

    @property
    def host_url(self) -> str:
        return f"http://{NAME}.localhost:{self.relay.port}"

    def get(self, path: str, timeout: float = 10, **kwargs: object) -> httpx.Response:
        """GET through the tunnel by the Host form (httpx connects to 127.0.0.1 and sends the Host)."""
        return httpx.get(f"http://127.0.0.1:{self.relay.port}{path}", timeout=timeout,
                         headers={"Host": f"{NAME}.localhost:{self.relay.port}"}, **kwargs)

    def stop(self) -> None:
        for proc in (self.agent, self.relay, self.app):
            proc.stop()


def act_public_url(trace: Trace, lab: Lab) -> None:
    trace.banner("Act 1: a public URL for an app that listens on loopback only")
    trace.note(f"the app: {lab.app.url}; the agent dialled out; now: curl {lab.host_url}/headers")
    seen = lab.get("/headers").json()
    trace.note(f"the app saw host {seen.get('host')!r}, x-forwarded-for {seen.get('x-forwarded-for')!r}")
    check(seen.get("x-forwarded-for") == "127.0.0.1", f"the app did not see the public client: {seen}")
    page = httpx.get(f"http://127.0.0.1:{lab.relay.port}/t/{NAME}/", timeout=10)
    trace.note(f"the path form /t/{NAME}/ -> {page.status_code}, {len(page.content)} B of HTML")
    check(page.status_code == 200 and b"served by the local app" in page.content, "the path form failed")
    missing = httpx.get(f"http://127.0.0.1:{lab.relay.port}/", headers={"Host": "nobody.localhost"})
    trace.note(f"nobody.localhost -> {missing.status_code} {missing.text.strip()}")
    check(missing.status_code == 404, f"an unknown name should be 404, got {missing.status_code}")


def act_interleaving(trace: Trace, lab: Lab) -> None:
    trace.banner("Act 2: two requests interleaved on the one WebSocket")
    start = lab.relay.line_count()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        slow = pool.submit(lab.get, "/slow?seconds=1.5")
        lab.relay.wait_line(r"> relay/demo\s+HEADERS #\d+ ", timeout=5, start=start)  # the slow one is open
        quick = pool.submit(lab.get, "/download?size=100000")
        first = next(concurrent.futures.as_completed([slow, quick]))
        order = "the quick download" if first is quick else "the slow request"
        trace.note(f"answered first: {order}")
        check(quick.result().content[:3] == b"\x00\x01\x02" and slow.result().status_code == 200,
              "a request through the tunnel failed")
    check(first is quick, "the quick request waited for the slow one: no multiplexing (one stream at a time)")
    trace.note("the quick request's HEADERS and DATA passed the slow one's on the same WebSocket")


def act_flow_control(trace: Trace, lab: Lab) -> None:
    trace.banner("Act 3: flow control -- a slow reader slows the app, not the tunnel")
    before = httpx.get(f"{lab.app.url}/stats").json()["download_bytes"]
    size, read = 60_000_000, 0
    with httpx.stream("GET", f"http://127.0.0.1:{lab.relay.port}/download?size={size}", timeout=10,
                      headers={"Host": f"{NAME}.localhost:{lab.relay.port}"}) as response:
        chunks = response.iter_raw(16_384)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:  # ~160 KB/s: far slower than the tunnel could go
            read += len(next(chunks))
            time.sleep(0.1)
        small = [lab.get("/headers").status_code for _ in range(5)]
        produced = httpx.get(f"{lab.app.url}/stats").json()["download_bytes"] - before
    trace.note(f"the client read {read / 1e6:.2f} MB; "
               f"the app produced {produced / 1e6:.2f} MB of {size / 1e6:.0f}")
    trace.note(f"meanwhile 5 small requests -> {small}")
    check(small == [200] * 5, f"small requests failed beside the slow download: {small}")
    check(produced < size / 4, f"the app produced {produced / 1e6:.1f} MB for a client that read "
          f"{read / 1e6:.2f} MB: no backpressure (the relay buffers it all)")
    trace.note("the window stopped the agent; the agent stopped reading; the app's writes blocked")


def act_failures(trace: Trace, lab: Lab) -> None:
    trace.banner("Act 4: the agent dies mid-request, then the relay restarts")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        start = lab.agent.line_count()
        slow = pool.submit(lab.get, "/slow?seconds=5")
        lab.agent.wait_line(r"< agent\s+HEADERS", timeout=5, start=start)
        lab.agent.signal(signal.SIGKILL)
        trace.note(f"agent pid {lab.agent.pid} killed with SIGKILL while the request waits")
        response = slow.result(timeout=10)
    trace.note(f"the public client got {response.status_code}: {response.text.strip()}")
    check(response.status_code == 502, f"expected 502 when the agent dies, got {response.status_code}")
    lab.agent.stop()
    lab.agent = lab.start_agent(*(["--no-reconnect"] if lab.args.no_reconnect else []))
    check(lab.get("/headers").status_code == 200, "the restarted agent does not serve")
    trace.note("a new agent registered the name again; now the relay restarts on the same ports")
    port, agent_port = lab.relay.port, lab.agent_port
    lab.relay.stop()
    lab.relay = lab.start_relay(port, agent_port)
    try:
        lab.agent.wait_line(r"registered as", timeout=15, start=1)
        eventually(lambda: lab.get("/headers").status_code == 200, 10, "the tunnel works again")
    except Exception as exc:  # NotInTime, ProcessNotReady, or the request failing
        raise CheckFailed(f"the agent did not come back after the relay restarted "
                          f"({exc.__class__.__name__}): it must reconnect with backoff and register "
                          "again") from None
    trace.note("the agent reconnected after a backoff and registered again: the URL works")


def act_socket_mode(trace: Trace, lab: Lab) -> None:
    trace.banner("Act 5: Socket Mode -- events down outbound WebSockets, acknowledged by envelope_id")
    events_url = f"http://127.0.0.1:{lab.relay.port}/events/bot"
    with tempfile.TemporaryDirectory(prefix="wirelab-tunnel-") as tmp:
        db = os.path.join(tmp, "bot.sqlite")
        extra = ["--no-dedupe"] if lab.args.no_dedupe else []
        relay = f"ws://127.0.0.1:{lab.agent_port}"
        agents = [start_process([PY, "-m", "learn_tunnel.socket_agent", "--relay", relay, "--app", "bot",
                                 "--name", f"bot-{n}", "--db", db, "--token", TOKEN, *extra],
                                name=f"bot-{n}", ready_line="connected to app", echo=True) for n in (1, 2)]
        try:
            def post(payload: dict[str, object]) -> str:
                return httpx.post(events_url, json=payload).json()["envelope_id"]
            posted = [post({"text": f"event {n}"}) for n in range(10)] + [post({"text": "slow", "work": 1.5})]
            trace.note(f"posted {len(posted)} events; {posted[-1]} needs 1.5 s of work, the deadline is 1 s")
            settled(lab, events_url, len(posted))
            slow = re.compile(rf"= bot-\d\s+{posted[-1]} (processed|already processed)")

            def both_copies_handled() -> bool:  # the first ack settles it; the second copy finishes later
                return sum(len(slow.findall(agent.output())) for agent in agents) >= 2
            eventually(both_copies_handled, 10, f"both deliveries of {posted[-1]} handled")
            stats = httpx.get(events_url).json()
            trace.note(f"relay: {stats['acked']} acknowledged, {stats['redelivered']} redelivered")
            check(stats["redelivered"] >= 1, "nothing was redelivered: the slow event should have timed out")
            exactly_once(trace, db, posted)
            posted += [post({"text": f"late {n}", "work": 0.5}) for n in range(6)]
            agents[0].wait_line(r"< bot-1\s+e-1[2-7]", timeout=10)
            agents[0].signal(signal.SIGKILL)
            trace.note(f"bot-1 (pid {agents[0].pid}) killed with SIGKILL while it held envelopes")
            settled(lab, events_url, len(posted))
            exactly_once(trace, db, posted)
            with sqlite3.connect(db) as store:
                rows = store.execute("SELECT agent, COUNT(*) FROM effects GROUP BY agent").fetchall()
            by_agent = dict(rows)
            trace.note(f"effects by agent: {by_agent}")
            check(len(by_agent) == 2, f"one agent did all the work: {by_agent} (the load should be shared)")
        finally:
            for agent in agents:
                agent.stop()


def act_websocket(trace: Trace, lab: Lab) -> None:
    trace.banner("Act 6: a WebSocket through the tunnel")
    url = f"ws://127.0.0.1:{lab.relay.port}/t/{NAME}/ws"

    async def talk() -> tuple[str | None, str, int | None, str | None]:
        async with connect(url, subprotocols=["chat.v1"], open_timeout=10) as ws:
            await ws.send("through the tunnel")
            echoed = await asyncio.wait_for(ws.recv(), 10)
            await ws.send("bye")
            try:
                await asyncio.wait_for(ws.recv(), 10)
            except ConnectionClosed:
                pass
            return ws.subprotocol, str(echoed), ws.close_code, ws.close_reason
    try:
        subprotocol, echoed, code, reason = asyncio.run(talk())
    except InvalidStatus as exc:
        raise CheckFailed(f"the relay refused the WebSocket: HTTP {exc.response.status_code} "
                          "(it must pass upgrades through the tunnel)") from None
    trace.note(f"subprotocol {subprotocol!r}; the app echoed {echoed!r}; closed with {code} {reason!r}")
    check((subprotocol, echoed) == ("chat.v1", "echo: through the tunnel"), "the echo did not come back")
    check((code, reason) == (4000, "bye from the app"), f"the app's close code did not come through: {code}")


def settled(lab: Lab, events_url: str, count: int) -> None:
    def done() -> bool:
        stats = httpx.get(events_url).json()
        return stats["acked"] >= count and stats["queued"] == 0 and stats["in_flight"] == 0
    try:
        eventually(done, 20, f"all {count} events acknowledged")
    except Exception as exc:
        stats = httpx.get(events_url).json()
        raise CheckFailed(f"the events were not all acknowledged: {stats} ({exc})") from None


def exactly_once(trace: Trace, db: str, posted: list[str]) -> None:
    with sqlite3.connect(db) as store:
        rows = store.execute("SELECT envelope_id, COUNT(*) FROM effects GROUP BY envelope_id").fetchall()
    counts = dict(rows)
    wrong = {e: counts.get(e, 0) for e in posted if counts.get(e, 0) != 1}
    check(not wrong, f"events without exactly one effect (id: times processed): {wrong}")
    trace.note(f"all {len(posted)} events processed exactly once")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_tunnel.demo",
                                     description="A reverse tunnel over one outbound WebSocket.")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="every frame, DATA and WINDOW_UPDATE too")
    parser.add_argument("--act", type=int, choices=(1, 2, 3, 4, 5, 6), help="run one act only")
    parser.add_argument("--no-multiplexing", action="store_true", help="act 2: one request at a time")
    parser.add_argument("--no-flow-control", action="store_true", help="act 3: 2 GiB windows")
    parser.add_argument("--no-reconnect", action="store_true", help="act 4: the agent does not reconnect")
    parser.add_argument("--no-dedupe", action="store_true", help="act 5: agents process redeliveries again")
    parser.add_argument("--no-websocket", action="store_true", help="act 6: the relay refuses upgrades")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> None:
    trace = Trace("demo", verbose=args.verbose)
    acts = [args.act] if args.act else [1, 2, 3, 4, 5, 6]
    lab = Lab(args)
    try:
        steps = {1: act_public_url, 2: act_interleaving, 3: act_flow_control, 4: act_failures,
                 5: act_socket_mode, 6: act_websocket}
        for act in acts:
            steps[act](trace, lab)
    finally:
        lab.stop()
    trace.note(f"all checks passed (acts {', '.join(map(str, acts))})")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    run_main(lambda: run(args))


if __name__ == "__main__":
    main()
