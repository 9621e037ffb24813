"""The fast path: on-demand files answered from memory, in front of the readable app.

Reading order: ... -> app -> **fast_path** -> server -> ...  (read ``app.py`` first: it is the lesson).

Every on-demand file (``/vod/...``) is written once by the packager and never
changes, so its whole answer can be made once.  At start-up,
:meth:`FastPath.record` asks the readable app itself (``app.create_app``, a
second instance with a silent trace) for every file under the on-demand
root, twice: without and with an ``Origin`` header (CORS adds two headers
then).  It keeps each answer's status, headers and body.  Afterwards a plain
``GET``/``HEAD`` of one of those paths is answered by replaying the recording:
:class:`FastHttpProtocol` (uvicorn's own HTTP/1.1 protocol, subclassed) writes
it as soon as the request's headers are parsed, with no ASGI task, no routing,
no middleware, no ``stat``, no ``open``.  That took the 125 KB segment from
about a quarter of nginx's MB/s to most of it (bench/bench_streaming.py).

Anything else goes to the readable app unchanged: a ``Range`` (206 is the
app's ``FileResponse``), a ``Cookie`` (CORS then answers with the exact
origin), an ``OPTIONS`` preflight, any path not recorded (404s, refused
traversal, ``/live/``, whose files change), ``POST /_faults``, and every
request a fault applies to (a shaped rate, a 404 or a delay still to serve).
The bodies and headers recorded *are* the app's; the protocol adds only what
uvicorn adds (status line, ``server``, ``date``), and
``tests/streaming/test_fast_path.py`` compares both servers request by request.
:class:`FastPath` is also an ASGI app in front of the app, for the recorded
requests the protocol leaves to uvicorn (HTTP/1.0, a pipelined request).
``python -m learn_streaming.server --readable`` serves with the app alone.
"""

from __future__ import annotations

import asyncio
import functools
import urllib.parse
from pathlib import Path
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from wirelab_common.wiretrace import Trace

from .app import PLAYLIST_CACHE, SEGMENT_CACHE, Faults, create_app

Headers = list[tuple[bytes, bytes]]
PROBE_ORIGIN = b"http://origin.invalid"  # any origin: the app allows every one ("*")


class FastPath:
    def __init__(self, app: Any, prefix: str, root: Path, faults: Faults, trace: Trace) -> None:
        self.app, self.prefix, self.root, self.faults, self.trace = app, prefix, root, faults, trace
        # path -> (status, headers without Origin, headers with Origin, body)
        self.answers: dict[str, tuple[int, Headers, Headers, bytes]] = {}

    async def record(self) -> int:
        """Ask a silent twin of the app for every file under ``root``; keep the answers.  Returns how many."""
        twin = create_app({self.prefix: self.root}, Trace("record", quiet=True), Faults())
        for file in sorted(p for p in self.root.rglob("*") if p.is_file()):
            path = f"/{self.prefix}/{file.relative_to(self.root).as_posix()}"
            status, plain, body = await _ask(twin, path, [])
            status_cors, cors, body_cors = await _ask(twin, path, [(b"origin", PROBE_ORIGIN)])
            if status == status_cors == 200 and body == body_cors:
                self.answers[path] = (status, plain, cors, body)
        self.trace.state(f"fast path: {len(self.answers)} on-demand answers recorded "
                         f"({sum(len(a[3]) for a in self.answers.values()) // 1024} KiB)")
        return len(self.answers)

    def lookup(self, method: str, path: str, headers: Headers,
               peer: str | None = None) -> tuple[int, Headers, bytes] | None:
        """The recorded answer to this request, or None when the app must answer it."""
        answer = self.answers.get(path)
        if answer is None or method not in ("GET", "HEAD") or self._faulty(path):
            return None
        origin = False
        for name, _ in headers:  # lower-case names
            if name in (b"range", b"cookie"):
                return None
            origin = origin or name == b"origin"
        status, plain, cors, body = answer
        if not self.trace.quiet:  # the same lines as the app's
            self.trace.received(f"GET {path}", [f"{k.decode()}: {v.decode()}" for k, v in headers], peer=peer)
            cache = PLAYLIST_CACHE if path.endswith((".m3u8", ".mpd")) else SEGMENT_CACHE
            self.trace.sent(f"200 {path} {len(body)} bytes", [f"Cache-Control: {cache}"])
        return status, cors if origin else plain, body

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """As an ASGI app: the recorded answer, or the app's."""
        answer = None
        if scope["type"] == "http":
            peer = scope["client"][0] if scope.get("client") else None
            answer = self.lookup(scope["method"], scope["path"], scope["headers"], peer)
        if answer is None:
            await self.app(scope, receive, send)
            return
        status, headers, body = answer
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _faulty(self, path: str) -> bool:
        key = path[1:]
        faults = self.faults
        return bool(faults.rate_bps or faults.missing.get(key) or faults.delay.get(key))


class _Answered:
    """Stands in for uvicorn's request cycle after a request the protocol answered itself."""

    response_complete, keep_alive, disconnected = True, True, False

    def __init__(self) -> None:
        self.message_event = asyncio.Event()


class FastHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, answering recorded requests as soon as their headers are parsed.

    The ASGI layer above still costs a task, a scope and two messages per
    request; this skips them.  It answers only a plain HTTP/1.1 keep-alive
    ``GET``/``HEAD`` with nothing in flight on the connection and room in its
    send buffer; everything
    else (and every request that ``FastPath.lookup`` declines) is uvicorn's
    as usual.  The bytes are the ones uvicorn would write: its status line,
    its ``server`` and ``date`` headers, then the recorded ones.
    (This leans on uvicorn's ``httptools`` protocol internals, pinned in the lock.)
    """

    def __init__(self, fast: FastPath, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fast = fast

    def on_headers_complete(self) -> None:
        parser = self.parser
        method = parser.get_method()
        answer = None
        if method in (b"GET", b"HEAD") and parser.get_http_version() == "1.1" and parser.should_keep_alive() \
                and not parser.should_upgrade() and (self.cycle is None or self.cycle.response_complete) \
                and not self.flow.write_paused:  # a slow reader: uvicorn's cycle waits for the drain
            path = httptools.parse_url(self.url).path.decode("ascii")
            path = urllib.parse.unquote(path) if "%" in path else path
            peer = self.client[0] if self.client else None
            answer = self.fast.lookup(method.decode(), path, self.headers, peer)
        if answer is None:
            super().on_headers_complete()
            return
        status, headers, body = answer
        head = [STATUS_LINE[status]]
        for name, value in (*self.server_state.default_headers, *headers):
            head += [name.lower(), b": ", value, b"\r\n"]
        head.append(b"\r\n")
        self.transport.write(b"".join(head) + body if method == b"GET" else b"".join(head))
        self.cycle = _Answered()  # type: ignore[assignment]
        self.on_response_complete()  # count it, re-arm keep-alive, start a pipelined request

    @classmethod
    def factory(cls, fast: FastPath) -> Any:
        """What ``uvicorn.Config(http=...)`` takes: called with uvicorn's own arguments."""
        return functools.partial(cls, fast)


async def _ask(app: Any, path: str, headers: Headers) -> tuple[int, Headers, bytes]:
    """One GET to an ASGI app in this process: (status, headers, body)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
             "headers": [(b"host", b"127.0.0.1"), *headers], "client": ("127.0.0.1", 0),
             "server": ("127.0.0.1", 80)}
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], list(start["headers"]), body
