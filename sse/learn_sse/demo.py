"""The sse demo: ``make demo-sse`` (``python -m learn_sse.demo [-v]``).

Reading order: read this last; it drives everything else in the folder.

Four acts, each checked, so the demo is also a test (CI runs it as one):

1. **The wire format.**  A few raw bytes of ``text/event-stream`` as the server
   writes them (``retry:``, ``id:``, ``event:``, ``data:``, the blank line that
   dispatches), then the same bytes through our parser (``event_stream.py``).
2. **A live feed, a crash and an exact resume.**  The server's ticker appends
   an event every 0.2 s to its SQLite log.  Our client (``client.py``) reads a
   few, then the server is killed (SIGKILL: a crash, not a shutdown) while the
   client waits to reconnect.  A new server on the same port and the same data
   directory continues the ids; the client reconnects with ``Last-Event-ID``
   and gets exactly what it missed: ids consecutive, none lost, none twice.
   Then the client hangs up, and the server's generator for it stops.
3. **Token streaming, the ChatGPT way.**  ``POST /v1/chat/completions`` with
   ``stream: true``: ``chat.completion.chunk`` events, one token each, read
   with the same parser, ending in ``data: [DONE]``.
4. **The proxy pitfall.**  The same stream through nginx twice: with
   ``proxy_buffering on`` (and gzip) and a server that does not send
   ``X-Accel-Buffering: no``, the events arrive in one lump at the end; with
   ``proxy_buffering off`` they arrive as they are sent.

Exit 0 when every check passed, 1 when one failed, 2 when the machine lacks
something (nginx, a free port), with what to do.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time

import httpx

from wirelab_common.errors import check, run_main
from wirelab_common.nginx_proxy import find_nginx
from wirelab_common.ports import free_port
from wirelab_common.processes import ManagedProcess, start_process
from wirelab_common.wiretrace import Trace, shorten

from .client import EventSourceClient
from .event_stream import EventStreamParser
from .proxy import render_sse_proxy

PY = sys.executable
READY = r"listening on http://"


def start_server(port: int, data_dir: str, *args: str, verbose: bool = False) -> ManagedProcess:
    argv = [PY, "-m", "learn_sse.server", "--port", str(port), "--data-dir", data_dir, *args]
    return start_process(argv + (["-v"] if verbose else []), name="sse", ready_line=READY, echo=True)


async def act_wire_format(trace: Trace, base: str) -> None:
    trace.banner("Act 1: the wire format -- what text/event-stream looks like")
    async with httpx.AsyncClient(timeout=10) as http:
        async with http.stream("GET", f"{base}/events?lastEventId=0&limit=2",
                               headers={"Accept-Encoding": "identity"}) as response:
            raw = (await response.aread()).decode()
    trace.received(f"HTTP {response.status_code} {response.headers['content-type']}",
                   [f"{k}: {v}" for k, v in response.headers.items()])
    for line in raw.replace("\r\n", "\n").split("\n"):
        print(f"      | {line}", flush=True)
    events = EventStreamParser().feed(raw)
    for event in events:
        trace.state(f"parsed: type={event.type} id={event.id} data={shorten(event.data, 50)}")
    check([e.id for e in events] == ["1", "2"], f"expected ids 1 and 2, got {[e.id for e in events]}")


async def act_resume(trace: Trace, port: int, data_dir: str, server: ManagedProcess,
                     verbose: bool) -> ManagedProcess:
    trace.banner("Act 2: a live feed, a server crash, and an exact resume with Last-Event-ID")
    base = f"http://127.0.0.1:{port}"
    seen: list[int] = []
    async with EventSourceClient(f"{base}/events?lastEventId=2", trace=trace.child("client")) as client:
        async for event in client.events():
            seen.append(int(event.id))
            if len(seen) == 4:
                trace.note("SIGKILL to the server: a crash; events already in SQLite are safe")
                server.kill()
                await asyncio.sleep(0.6)  # the client is now waiting to reconnect ...
                trace.note("a new server on the same port and data directory")
                server = start_server(port, data_dir, "--tick", "0.2", "--retry-ms", "500",
                                      verbose=verbose)
            if len(seen) == 12:
                break
        check(client.connects == 2, f"expected one reconnection, saw {client.connects} connects")
        check(client.sent_last_event_ids[-1] == str(seen[3]),
              f"the reconnection should have sent Last-Event-ID {seen[3]}: {client.sent_last_event_ids}")
    check(seen == list(range(3, 15)), f"ids should be 3..14 with no gap and no repeat, got {seen}")
    trace.note(f"ids {seen[0]}..{seen[-1]}: nothing lost, nothing twice, across a crash")
    async with httpx.AsyncClient(timeout=5) as http:
        for _ in range(50):  # the client hung up: its generator on the server must stop
            stats = (await http.get(f"{base}/stats")).json()
            if stats["subscribers_active"] == 0:
                break
            await asyncio.sleep(0.1)
    check(stats["subscribers_active"] == 0, f"the server still streams to a gone client: {stats}")
    trace.note(f"the server stopped the generator of the client that hung up ({stats['generators_stopped']})")
    return server


async def act_tokens(trace: Trace, base: str) -> None:
    trace.banner("Act 3: token streaming -- POST /v1/chat/completions with stream: true")
    body = {"model": "wirelab-echo", "stream": True,
            "messages": [{"role": "user", "content": "Why do proxies buffer?"}]}
    trace.sent(f"POST /v1/chat/completions {json.dumps(body)}")
    parser, pieces, chunks = EventStreamParser(), [], 0
    async with httpx.AsyncClient(timeout=10) as http:
        async with http.stream("POST", f"{base}/v1/chat/completions", json=body) as response:
            check(response.status_code == 200, f"completions answered {response.status_code}")
            async for text in response.aiter_text():
                for event in parser.feed(text):
                    if event.data == "[DONE]":
                        trace.received("data: [DONE]")
                        continue
                    chunk = json.loads(event.data)
                    chunks += 1
                    check(chunk["object"] == "chat.completion.chunk", f"not a chunk: {chunk}")
                    choice = chunk["choices"][0]
                    piece, finish = choice["delta"].get("content", ""), choice["finish_reason"]
                    pieces.append(piece)
                    trace.received(f"chunk {chunks}: delta {piece!r}"
                                   + (f" finish_reason={finish}" if finish else ""))
    reply = "".join(pieces)
    check(reply and event.data == "[DONE]", "the stream must end with data: [DONE]")
    trace.note(f"reassembled reply: {shorten(reply, 100)}")


async def arrival_times(url: str) -> list[float]:
    """Seconds after the request at which each event of a finite stream arrived."""
    start, times = time.monotonic(), []
    async with EventSourceClient(url, max_reconnects=0) as client:
        async for _event in client.events():
            times.append(round(time.monotonic() - start, 2))
            if len(times) == 4:
                break
    return times


async def act_proxy(trace: Trace, verbose: bool) -> None:
    trace.banner("Act 4: the proxy pitfall -- nginx buffering holds events back")
    nginx, port = find_nginx(), free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        with start_server(port, data_dir, "--tick", "0.4", "--no-accel-header", verbose=verbose):
            for buffered in (True, False):
                setup = render_sse_proxy(("127.0.0.1", port), buffered=buffered, nginx=nginx)
                try:
                    with start_process(setup.argv, name="nginx", ready_port=setup.port, echo=True):
                        name = "proxy_buffering on + gzip" if buffered else "proxy_buffering off"
                        trace.note(f"through nginx with {name}: 4 events, one every 0.4 s")
                        times = await arrival_times(setup.url("/events?limit=4"))
                        trace.received(f"events arrived after {times} s")
                        spread = times[-1] - times[0]
                        if buffered:
                            check(spread < 0.3, f"buffered: expected one lump, arrivals {times}")
                        else:
                            check(spread > 0.6, f"unbuffered: expected events live, arrivals {times}")
                finally:
                    setup.remove()
    trace.note("the cure: proxy_buffering off, or the server's X-Accel-Buffering: no header")


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_sse.demo", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="headers and heartbeats on every side")
    args = parser.parse_args(argv)
    trace = Trace("demo", verbose=args.verbose)
    find_nginx()  # fail early, before anything starts, if act 4 cannot run
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        server = start_server(port, data_dir, "--tick", "0.2", "--retry-ms", "500", verbose=args.verbose)
        try:
            await act_wire_format(trace, f"http://127.0.0.1:{port}")
            server = await act_resume(trace, port, data_dir, server, args.verbose)
            await act_tokens(trace, f"http://127.0.0.1:{port}")
        finally:
            server.stop()
    await act_proxy(trace, args.verbose)
    trace.banner("all checks passed")


if __name__ == "__main__":
    run_main(main)
