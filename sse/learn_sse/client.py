"""An EventSource for Python: read an event stream, and resume it when the connection drops.

Reading order: event_stream -> event_log -> feed -> completions -> app -> server;
then **client**; then the page; then proxy.

:class:`EventSourceClient` does what a browser's ``EventSource`` does (WHATWG
HTML §9.2.2 "The EventSource interface", §9.2.3 "Processing model"), on httpx
streaming and our own :class:`~learn_sse.event_stream.EventStreamParser`::

    async with EventSourceClient("http://127.0.0.1:8000/events") as client:
        async for event in client.events():
            print(event.type, event.id, event.data)

Its states are EventSource's ``readyState``, its events the steps of §9.2.3
("announce the connection", "reestablish the connection", "fail the connection")
and ``close()``; :data:`READY_STATES` is the whole table, every change one trace line::

    CONNECTING --announce-->    OPEN
    CONNECTING --reestablish--> CONNECTING
    CONNECTING --fail-->        CLOSED
    CONNECTING --close-->       CLOSED
    OPEN       --reestablish--> CONNECTING
    OPEN       --close-->       CLOSED

``announce``: 200 with ``text/event-stream``.  ``reestablish``: the stream
ended or the network failed (from CONNECTING: an attempt that did not open,
retried after a longer wait).  ``fail``: 204, another status or another
Content-Type: no retry.  ``close``: the caller stopped, or the reconnection
limit was reached.

**Resuming.**  The parser remembers the last event ID; every reconnection
sends it as ``Last-Event-ID`` (§9.2.4), so a server that keeps its recent
events sends exactly the ones we missed.

**Waiting.**  Before reconnecting it waits the reconnection time: 3 s until the
server says otherwise with ``retry:`` (§9.2.6).  §9.2.3 lets a client wait
longer "if the previous attempt failed ... an exponential backoff delay": each
attempt in a row that fails to open doubles the wait (up to ``max_backoff_ms``,
never below the server's value); an attempt that opens resets it.  The wait is
a ``sleep`` parameter, so tests check the exact schedule without waiting.
There is no random jitter, to keep the spec's "wait the reconnection time"
exact: production adds some, so that the clients of a restarted server do not
all come back in the same millisecond.

Run it::

    python -m learn_sse.client --url http://127.0.0.1:8000/events --count 10 --expect-consecutive -v
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from enum import Enum

import httpx

from wirelab_common.errors import CheckFailed, SetupError, check, run_main
from wirelab_common.server_cli import add_verbosity
from wirelab_common.state_table import Machine, StateTable
from wirelab_common.wiretrace import Trace, shorten

from .event_stream import Comment, Event, EventStreamParser, RetryChanged

DEFAULT_RETRY_MS = 3000  # "a user-agent-defined value, probably in the region of a few seconds"
MIN_BACKOFF_MS = 100  # after a failure, back off from at least this, even if the server said retry: 0
MAX_BACKOFF_MS = 30_000
DEFAULT_URL = "http://127.0.0.1:8000/events"


class ReadyState(Enum):
    """§9.2.2 ``readyState``: CONNECTING (0), OPEN (1), CLOSED (2)."""

    CONNECTING = 0
    OPEN = 1
    CLOSED = 2


READY_STATES = StateTable("EventSource", {
    (ReadyState.CONNECTING, "announce"): ReadyState.OPEN,
    (ReadyState.CONNECTING, "reestablish"): ReadyState.CONNECTING,  # a failed attempt, retried
    (ReadyState.CONNECTING, "fail"): ReadyState.CLOSED,
    (ReadyState.CONNECTING, "close"): ReadyState.CLOSED,
    (ReadyState.OPEN, "reestablish"): ReadyState.CONNECTING,
    (ReadyState.OPEN, "close"): ReadyState.CLOSED,
})


class EventSourceError(Exception):
    """Base of this module's errors."""


class ConnectionFailed(EventSourceError):
    """§9.2.3 "fail the connection": the server answered, but not with an event stream; not retried."""

    def __init__(self, message: str, status: int, content_type: str) -> None:
        super().__init__(message)
        self.status = status
        self.content_type = content_type


class ReconnectLimitReached(EventSourceError):
    """The connection dropped after ``max_reconnects`` reconnections; the last reason is the cause."""


def reconnect_delay(retry_ms: int, failures: int, max_backoff_ms: int = MAX_BACKOFF_MS) -> float:
    """Seconds to wait before the next attempt, after ``failures`` attempts in a row that did not open.

    ``retry_ms`` after a connection that was open; doubled for each failure,
    capped at ``max_backoff_ms`` -- but never shorter than ``retry_ms``, which
    the spec says to wait in any case.  ``retry: 0`` must not turn a dead
    server into a busy loop, so failures double at least ``MIN_BACKOFF_MS``.
    """
    if failures == 0:
        return retry_ms / 1000
    backoff = min(max(retry_ms, MIN_BACKOFF_MS) * 2**failures, max_backoff_ms)
    return max(retry_ms, backoff) / 1000


def user_agent(actor: str) -> str:
    """Our ``User-Agent``: the trace's actor name first (RFC 9110 §10.1.5: a product token), so
    the server can name us in its events as we name ourselves (``app.peer_name``)."""
    return f"{actor or 'client'} (learn_sse)"


def is_event_stream(content_type: str) -> bool:
    """§9.2.3: the MIME type must be ``text/event-stream``, "ignoring any MIME type parameters"."""
    return content_type.partition(";")[0].strip().lower() == "text/event-stream"


class EventSourceClient:
    """An event stream that reconnects by itself; see the module docstring.

    ``last_event_id`` resumes from an ID saved earlier (a browser cannot do
    this; a Python client may).  ``http`` reuses an ``httpx.AsyncClient``
    (closed by its owner, not by us).  ``read_timeout`` (s) treats a silent
    connection as lost: set it above the server's heartbeat interval.
    ``resume=False`` never sends ``Last-Event-ID`` (the demo's ``--no-last-event-id``,
    to show what the header saves).  ``server`` is the other end's actor name in
    the structured events (``sse``: what our server calls itself); the client
    names itself to the server by its trace actor, as the first word of ``User-Agent``.
    """

    def __init__(self, url: str, *, last_event_id: str | None = None, retry_ms: int = DEFAULT_RETRY_MS,
                 trace: Trace | None = None, headers: Mapping[str, str] | None = None,
                 max_reconnects: int | None = None, http: httpx.AsyncClient | None = None,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
                 max_backoff_ms: int = MAX_BACKOFF_MS, read_timeout: float | None = None,
                 resume: bool = True, server: str = "sse") -> None:
        self.url = url
        self.server = server
        self.retry_ms = retry_ms
        self.resume = resume
        self.trace = trace or Trace("client")
        self.headers = dict(headers or {})
        self.max_reconnects = max_reconnects
        self.max_backoff_ms = max_backoff_ms
        self.timeout = httpx.Timeout(10.0, read=read_timeout)
        self.parser = EventStreamParser(last_event_id or "", extras=True)
        self.machine = Machine(READY_STATES, ReadyState.CONNECTING)
        self.connects = 0  # responses that reached OPEN
        self.reconnect_delays: list[float] = []  # every wait before a reconnection, in seconds
        self.sent_last_event_ids: list[str | None] = []  # the Last-Event-ID of each request
        self.closed_reason = ""  # why the state became CLOSED
        self.last_reason = ""  # why the connection last dropped or failed
        self._sleep = sleep
        self._http = http
        self._events: AsyncGenerator[Event, None] | None = None

    @property
    def last_event_id(self) -> str:
        """The last event ID string (§9.2.6): what the next reconnection sends as ``Last-Event-ID``."""
        return self.parser.last_event_id

    @property
    def state(self) -> ReadyState:
        return self.machine.state  # type: ignore[return-value]

    def _fire(self, event: str, why: str = "") -> None:
        """Move on ``event`` (BadTransition if the table has no such move); trace a change of state."""
        before = self.state
        after = self.machine.fire(event)
        if after is not before:
            self.trace.state(f"{before.name} -> {after.name}" + (f"  ({why})" if why else ""))

    def events(self) -> AsyncIterator[Event]:
        """Every event of the stream, across reconnections, until 204, a failure, or :meth:`aclose`."""
        if self._events is not None:
            raise RuntimeError("events() can be iterated only once per client")
        self._events = self._run()
        return self._events

    async def _run(self) -> AsyncGenerator[Event, None]:
        http = self._http or httpx.AsyncClient(trust_env=False)  # loopback: never via an HTTP(S)_PROXY
        failures = 0  # attempts in a row that did not reach OPEN: the backoff exponent
        try:
            while True:
                opened = False
                try:
                    async with http.stream("GET", self.url, headers=self._request_headers(),
                                           timeout=self.timeout, follow_redirects=True) as response:
                        if not self._announce(response):
                            return  # 204: the server asked us to stop
                        opened = True
                        failures = 0
                        async for chunk in response.aiter_bytes():
                            for item in self.parser.feed(chunk):
                                if type(item) is Event:
                                    self._trace_event(item)
                                    yield item
                                else:
                                    self._trace_extra(item)
                    reason = "the server ended the stream"
                except httpx.TransportError as exc:  # refused, reset, timed out, cut mid-chunk
                    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                finally:
                    self.parser.end()
                if self.parser.discarded_at_end:
                    reason += " (an incomplete event was discarded)"
                if not opened:
                    failures += 1
                await self._reestablish(("connection lost: " if opened else "connect failed: ") + reason,
                                        failures)
        finally:
            if self.state is not ReadyState.CLOSED:  # cancelled, or the caller stopped iterating
                self._fire("close", self.closed_reason or "stopped")
            if self._http is None:
                await http.aclose()

    def _request_headers(self) -> dict[str, str | bytes]:
        """The headers of the next request (traced, and recorded in ``sent_last_event_ids``)."""
        headers: dict[str, str | bytes] = {"Accept": "text/event-stream", "Cache-Control": "no-cache",
                                           "User-Agent": user_agent(self.trace.actor), **self.headers}
        last_id = self.parser.last_event_id if self.resume else ""
        self.sent_last_event_ids.append(last_id or None)
        if last_id:  # §9.2.3: only "if the event source's last event ID string is not the empty string"
            headers["Last-Event-ID"] = last_id.encode()  # §9.2.4: "encoded as UTF-8" (httpx assumes ASCII)
        self.trace.sent(f"GET {self.url}" + (f"  Last-Event-ID: {last_id}" if last_id else ""),
                        [f"{name}: {value.decode() if isinstance(value, bytes) else value}"
                         for name, value in headers.items()], peer=self.server)
        return headers

    def _announce(self, response: httpx.Response) -> bool:
        """§9.2.3: check the response; True if it is an event stream ("announce the connection")."""
        content_type = response.headers.get("content-type", "")
        self.trace.received(f"HTTP {response.status_code} {response.reason_phrase}  {content_type}",
                            [f"{name}: {value}" for name, value in response.headers.items()],
                            peer=self.server)
        if response.status_code == 204:
            # §9.2.1: "a client can be told to stop reconnecting using the HTTP 204 No Content
            # response code" -- in §9.2.3 terms, any status but 200 fails the connection.
            self.closed_reason = "HTTP 204 No Content: the server says stop"
            self._fire("fail", self.closed_reason)
            return False
        if response.status_code != 200 or not is_event_stream(content_type):
            shown_type = content_type or "(none)"
            self.closed_reason = (f"HTTP {response.status_code} with Content-Type {shown_type!r};"
                                  " expected 200 text/event-stream")
            self._fire("fail", "fail the connection")
            raise ConnectionFailed(f"{self.url}: {self.closed_reason}", response.status_code, content_type)
        self.connects += 1
        self._fire("announce")
        return True

    async def _reestablish(self, reason: str, failures: int) -> None:
        """§9.2.3 "reestablish the connection": CONNECTING, wait, and let the loop fetch again."""
        self._fire("reestablish")
        self.last_reason = reason
        if self.max_reconnects is not None and len(self.reconnect_delays) >= self.max_reconnects:
            self.closed_reason = f"{reason}; gave up after {self.max_reconnects} reconnection(s)"
            raise ReconnectLimitReached(self.closed_reason)
        delay = reconnect_delay(self.retry_ms, failures, self.max_backoff_ms)
        resume = f" with Last-Event-ID {self.last_event_id}" if self.last_event_id else ""
        self.trace.state(f"{reason}; reconnect in {delay:.2f} s{resume}")
        self.reconnect_delays.append(delay)
        await self._sleep(delay)

    def _trace_event(self, event: Event) -> None:
        shown_id = f" id={event.id}" if event.id is not None else ""
        self.trace.received(f"event={event.type}{shown_id} data='{shorten(event.data)}'", peer=self.server,
                            cid=event.id)

    def _trace_extra(self, item: Comment | RetryChanged) -> None:
        if type(item) is RetryChanged:
            self.retry_ms = item.ms  # §9.2.6: "set the event stream's reconnection time"
            self.trace.state(f"retry is now {item.ms} ms")
        elif self.trace.verbose:  # heartbeats would drown the trace: shown with -v only
            self.trace.received(f":{item.text}", peer=self.server)

    async def aclose(self) -> None:
        """Stop: close the response, stop reconnecting, and (if it is ours) close the HTTP client."""
        self.closed_reason = self.closed_reason or "closed by us"
        if self._events is not None:
            await self._events.aclose()
        if self.state is not ReadyState.CLOSED:
            self._fire("close", "closed by us")

    async def __aenter__(self) -> EventSourceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def check_consecutive(event: Event, previous: int | None) -> int:
    """``--expect-consecutive``: this event's id must be the integer after ``previous``; return it."""
    if event.type == "reset":
        raise CheckFailed(f"the server could not resume the stream: reset {event.data}")
    if event.id is None or not (event.id.isascii() and event.id.isdigit()):
        raise CheckFailed(f"event {event.type!r} has no integer id: {event.id!r}")
    number = int(event.id)
    if previous is not None and number != previous + 1:
        what = "a duplicate" if number <= previous else f"a gap: {number - previous - 1} missed"
        raise CheckFailed(f"event id {number} after {previous}: {what}")
    return number


async def run(args: argparse.Namespace) -> None:
    trace = Trace("client", verbose=args.verbose, quiet=args.quiet)
    client = EventSourceClient(args.url, last_event_id=args.last_event_id, trace=trace,
                               max_reconnects=args.max_reconnects)
    counted = 0
    resume_from = args.last_event_id or ""
    previous = int(resume_from) if resume_from.isascii() and resume_from.isdigit() else None
    first = None
    try:
        async with asyncio.timeout(args.timeout), client:
            async for event in client.events():
                if args.expect_consecutive:
                    previous = check_consecutive(event, previous)
                    first = previous if first is None else first
                if args.type is None or event.type == args.type:
                    counted += 1
                    if counted == args.count:
                        break
    except (TimeoutError, ReconnectLimitReached) as exc:
        if client.connects == 0:  # never reached the server: the machine, not the stream, is wrong
            raise SetupError(f"no event stream at {args.url}: {client.last_reason or 'no answer'}",
                             "start one: python -m learn_sse.server --port 8000") from None
        if isinstance(exc, ReconnectLimitReached):
            raise CheckFailed(f"{counted} event(s), then {exc}") from None
        if args.count is not None:  # without --count, --timeout is just how long to listen
            raise CheckFailed(f"{counted} of {args.count} events in {args.timeout:.0f} s") from None
    except ConnectionFailed as exc:
        raise SetupError(str(exc), "is this the URL of an event stream? (the server's GET /events)") from None
    if args.count is not None:
        check(counted == args.count, f"the stream stopped after {counted} of {args.count} events "
                                     f"({client.closed_reason})")
    ids = f", ids {first}..{previous} consecutive" if first is not None else ""
    kind = f" of type {args.type}" if args.type else ""
    trace.note(f"received {counted} event(s){kind}{ids} over {client.connects} connection(s)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m learn_sse.client",
        description="Read an event stream, reconnecting and resuming like EventSource.")
    parser.add_argument("--url", default=DEFAULT_URL, help=f"the event stream (default {DEFAULT_URL})")
    parser.add_argument("--last-event-id", metavar="ID", help="resume after this id (sent as Last-Event-ID)")
    parser.add_argument("--count", type=int, metavar="N", help="stop after N events (of --type, if given)")
    parser.add_argument("--expect-consecutive", action="store_true",
                        help="check that ids are consecutive integers (none missed or repeated); else exit 1")
    parser.add_argument("--type", metavar="TYPE", help="count only events of this type")
    parser.add_argument("--timeout", type=float, metavar="S", help="give up after S seconds (default: never)")
    parser.add_argument("--max-reconnects", type=int, metavar="N", help="give up after N reconnections")
    add_verbosity(parser)  # -v: headers and comments (heartbeats); -q: nothing but errors
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run_main(lambda: run(args))


if __name__ == "__main__":
    main()
