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

Each act can be run alone (``--act N``), and each has a switch that turns off the
mechanism it shows, so that its check fails (exit 1, saying what went wrong):

- ``--no-blank-line`` (act 1): the blank lines are dropped before parsing, so no
  event is ever dispatched;
- ``--no-last-event-id`` (act 2): the client reconnects without ``Last-Event-ID``,
  so the resume after the crash repeats events;
- ``--no-stream`` (act 3): the completion is asked for with ``stream: false``, so
  one JSON answer comes back instead of chunks;
- ``--proxy-buffering-on`` (act 4): the second nginx buffers too, so no events
  arrive live.

Exit 0 when every check passed, 1 when one failed, 2 when the machine lacks
something (nginx), with what to do.
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
from wirelab_common.processes import ManagedProcess, start_process, start_server
from wirelab_common.waiting import eventually_async
from wirelab_common.wiretrace import Trace, shorten

from .client import EventSourceClient, user_agent
from .event_stream import EventStreamParser
from .proxy import render_sse_proxy

PY = sys.executable


def start_sse(data_dir: str, *args: str, port: int = 0, verbose: bool = False) -> ManagedProcess:
    """Our server on --port 0 (or ``port``: a restart on the same one); the ready line names it."""
    argv = [PY, "-m", "learn_sse.server", "--port", str(port), "--data-dir", data_dir, *args]
    return start_server(argv + (["-v"] if verbose else []), name="sse", echo=True)


async def act_wire_format(trace: Trace, base: str, blank_lines: bool = True) -> None:
    trace.banner("Act 1: the wire format -- what text/event-stream looks like")
    async with httpx.AsyncClient(timeout=10) as http:
        async with http.stream("GET", f"{base}/events?lastEventId=0&limit=2",
                               headers={"Accept-Encoding": "identity",
                                        "User-Agent": user_agent(trace.actor)}) as response:
            raw = (await response.aread()).decode()
    trace.received(f"HTTP {response.status_code} {response.headers['content-type']}",
                   [f"{k}: {v}" for k, v in response.headers.items()], peer="sse")
    for line in raw.replace("\r\n", "\n").split("\n"):
        print(f"      | {line}", flush=True)
    if not blank_lines:  # --no-blank-line: what a proxy that drops empty lines would deliver
        trace.note("--no-blank-line: the blank lines are dropped before parsing")
        raw = "\n".join(line for line in raw.replace("\r\n", "\n").split("\n") if line) + "\n"
    parser = EventStreamParser()
    events = parser.feed(raw) + parser.end()
    for event in events:
        trace.state(f"parsed: type={event.type} id={event.id} data={shorten(event.data, 50)}")
    check([e.id for e in events] == ["1", "2"], f"expected events with ids 1 and 2, got "
          f"{[e.id for e in events]}: only a blank line dispatches an event")


async def act_resume(trace: Trace, data_dir: str, server: ManagedProcess, verbose: bool,
                     resume: bool = True) -> ManagedProcess:
    trace.banner("Act 2: a live feed, a server crash, and an exact resume with Last-Event-ID")
    base, port = server.url, server.port
    seen: list[int] = []
    async with httpx.AsyncClient(timeout=5) as http:  # the feed has stored ids 1 and 2 (run alone too)
        async def has_two() -> bool:
            return (await http.get(f"{base}/healthz")).json()["last_id"] >= 2
        await eventually_async(has_two, 5, "the feed stored its first two events", interval=0.1)
    if not resume:
        trace.note("--no-last-event-id: the client will reconnect without Last-Event-ID")
    try:
        async with EventSourceClient(f"{base}/events?lastEventId=2", trace=trace.child("client"),
                                     resume=resume) as client:
            async for event in client.events():
                seen.append(int(event.id))
                if len(seen) == 4:
                    trace.note("SIGKILL to the server: a crash; events already in SQLite are safe")
                    server.kill()
                    await asyncio.sleep(0.6)  # the client is now waiting to reconnect ...
                    trace.note("a new server on the same port and data directory")
                    server = start_sse(data_dir, "--tick", "0.2", "--retry-ms", "500", port=port,
                                       verbose=verbose)
                if len(seen) == 12:
                    break
            check(client.connects == 2, f"expected one reconnection, saw {client.connects} connects")
        check(seen == list(range(3, 15)), f"ids should be 3..14 with no gap and no repeat, got {seen}")
        check(client.sent_last_event_ids[-1] == str(seen[3]),
              f"the reconnection should have sent Last-Event-ID {seen[3]}: {client.sent_last_event_ids}")
        trace.note(f"ids {seen[0]}..{seen[-1]}: nothing lost, nothing twice, across a crash")
        async with httpx.AsyncClient(timeout=5) as http:
            async def stats_when_idle() -> dict | None:  # the client hung up: its generator must stop
                stats = (await http.get(f"{base}/stats")).json()
                return stats if stats["subscribers_active"] == 0 else None
            stats = await eventually_async(stats_when_idle, 5,
                                           "the server stopped streaming to the gone client", interval=0.1)
        stopped = stats["generators_stopped"]
        trace.note(f"the server stopped the generator of the client that hung up ({stopped})")
    except BaseException:
        server.stop()  # the restarted server is ours to stop when a check fails: main knows the first only
        raise
    return server


async def act_tokens(trace: Trace, base: str, stream: bool = True) -> None:
    trace.banner("Act 3: token streaming -- POST /v1/chat/completions with stream: true")
    body = {"model": "wirelab-echo", "stream": stream,
            "messages": [{"role": "user", "content": "Why do proxies buffer?"}]}
    trace.sent(f"POST /v1/chat/completions {json.dumps(body)}", peer="sse")
    parser, pieces, chunks, done, cid = EventStreamParser(), [], 0, False, None
    async with httpx.AsyncClient(timeout=10, headers={"User-Agent": user_agent(trace.actor)}) as http:
        async with http.stream("POST", f"{base}/v1/chat/completions", json=body) as response:
            check(response.status_code == 200, f"completions answered {response.status_code}")
            async for text in response.aiter_text():
                for event in parser.feed(text):
                    if event.data == "[DONE]":
                        trace.received("data: [DONE]", peer="sse", cid=cid)
                        done = True
                        continue
                    chunk = json.loads(event.data)
                    chunks, cid = chunks + 1, chunk.get("id")  # the completion's id: every chunk has it
                    check(chunk["object"] == "chat.completion.chunk", f"not a chunk: {chunk}")
                    choice = chunk["choices"][0]
                    piece, finish = choice["delta"].get("content", ""), choice["finish_reason"]
                    pieces.append(piece)
                    trace.received(f"chunk {chunks}: delta {piece!r}"
                                   + (f" finish_reason={finish}" if finish else ""), peer="sse", cid=cid)
    reply = "".join(pieces)
    check(chunks > 2 and reply and done, f"expected a stream of chunks ending with data: [DONE], got "
          f"{chunks} chunk(s){'' if done else ' and no [DONE]'} ({response.headers.get('content-type')})")
    trace.note(f"reassembled reply: {shorten(reply, 100)}")


async def arrival_times(url: str) -> list[float]:
    """Seconds after the request at which each event of a finite stream arrived."""
    start, times = time.monotonic(), []
    async with EventSourceClient(url, max_reconnects=0, server="nginx") as client:
        async for _event in client.events():
            times.append(round(time.monotonic() - start, 2))
            if len(times) == 4:
                break
    return times


async def act_proxy(trace: Trace, verbose: bool, always_buffer: bool = False) -> None:
    trace.banner("Act 4: the proxy pitfall -- nginx buffering holds events back")
    nginx = find_nginx()
    if always_buffer:
        trace.note("--proxy-buffering-on: the cure is left out, both proxies buffer")
    with tempfile.TemporaryDirectory() as data_dir:
        with start_sse(data_dir, "--tick", "0.4", "--no-accel-header", verbose=verbose) as server:
            for buffered in (True, False):
                setup = render_sse_proxy(("127.0.0.1", server.port), buffered=buffered or always_buffer,
                                         nginx=nginx)
                try:
                    with start_process(setup.argv, name="nginx", ready_port=setup.port, echo=True):
                        name = "proxy_buffering on + gzip" if buffered else "proxy_buffering off"
                        trace.note(f"through nginx with {name}: 4 events, one every 0.4 s")
                        times = await arrival_times(setup.url("/events?limit=4"))
                        trace.received(f"events arrived after {times} s", peer="nginx")
                        spread = times[-1] - times[0]
                        if buffered:
                            check(spread < 0.3, f"buffered: expected one lump, arrivals {times}")
                        else:
                            check(spread > 0.6, f"unbuffered: expected events live, arrivals {times}: "
                                                "nginx held them back (proxy_buffering on)")
                finally:
                    setup.remove()
    trace.note("the cure: proxy_buffering off, or the server's X-Accel-Buffering: no header")


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_sse.demo", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="headers and heartbeats on every side")
    parser.add_argument("--act", type=int, choices=range(1, 5), help="run only this act")
    parser.add_argument("--no-blank-line", action="store_true",
                        help="act 1: drop the blank lines before parsing (no event is dispatched)")
    parser.add_argument("--no-last-event-id", action="store_true",
                        help="act 2: reconnect without Last-Event-ID (the resume repeats events)")
    parser.add_argument("--no-stream", action="store_true",
                        help="act 3: ask for the completion with stream: false (no chunks)")
    parser.add_argument("--proxy-buffering-on", action="store_true",
                        help="act 4: the second nginx buffers too (no events arrive live)")
    args = parser.parse_args(argv)
    trace = Trace("demo", verbose=args.verbose)
    runs = {n: args.act in (None, n) for n in range(1, 5)}
    if runs[4]:
        find_nginx()  # fail early, before anything starts, if act 4 cannot run
    if runs[1] or runs[2] or runs[3]:
        with tempfile.TemporaryDirectory() as data_dir:
            server = start_sse(data_dir, "--tick", "0.2", "--retry-ms", "500", verbose=args.verbose)
            try:
                if runs[1]:
                    await act_wire_format(trace, server.url, blank_lines=not args.no_blank_line)
                if runs[2]:
                    server = await act_resume(trace, data_dir, server, args.verbose,
                                              resume=not args.no_last_event_id)
                if runs[3]:
                    await act_tokens(trace, server.url, stream=not args.no_stream)
            finally:
                server.stop()
    if runs[4]:
        await act_proxy(trace, args.verbose, always_buffer=args.proxy_buffering_on)
    trace.banner("all checks passed")


if __name__ == "__main__":
    run_main(main)
