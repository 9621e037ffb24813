"""The MCP host's client: connect (either transport, either era), list tools, call them.

Reading order: client_session -> client_stdio / client_http -> **client** -> guards ->
planner -> agent -> demo.

:class:`McpClient` drives a :class:`~learn_mcp.host.client_session.ClientSession` over a
transport: it sends the session's first message, hands each answer back to the session
until the session is READY (modern after ``server/discover``, or legacy after the
``initialize`` handshake), then offers what an agent needs:

- ``list_tools()``: ``tools/list``, following ``nextCursor`` pages;
- ``call_tool()``: ``tools/call`` with a ``progressToken``; each
  ``notifications/progress`` goes to a callback; cancelling the awaiting task (or a
  timeout) cancels the request the transport's way;
- ``complete()``: ``completion/complete``, the suggestions for an argument being typed;
- ``listen()``: over legacy HTTP, open the GET stream for what belongs to no request;
- ``subscribe()`` / ``unsubscribe()``: watch one URI, by ``resources/subscribe``
  (2025-11-25) or by a ``subscriptions/listen`` stream (2026-07-28); each
  ``notifications/resources/updated`` for it goes to the callback given, and every one
  received is kept in ``updates``;
- ``request()`` answers a 2026-07-28 ``input_required`` result with the ``Answerer``
  and retries (multi round-trip requests, asking.py).

As a program it is a small inspector::

    python -m learn_mcp.host.client --stdio "python -m learn_mcp.server --transport stdio" -v
    python -m learn_mcp.host.client --url http://127.0.0.1:8931/mcp --legacy \\
        --call calculate '{"expression": "2*(3+4)"}'
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import shlex
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

import httpx

from wirelab_common.errors import SetupError, check, run_main
from wirelab_common.server_cli import add_verbosity
from wirelab_common.wiretrace import Trace

from ..jsonrpc import Notification, Request, Response
from .asking import Answerer, answer_inputs
from .client_http import HttpTransport
from .client_session import (
    LEGACY,
    MODERN,
    ClientSession,
    Phase,
    ProtocolError,
    Reply,
    result_of,
)
from .client_stdio import StdioTransport
from .guards import is_destructive

OnProgress = Callable[[float, float | None, str | None], None]
OnUpdated = Callable[[str], None]  # the URI of a subscribed resource that changed
ACK_TIMEOUT = 10.0  # seconds for a subscriptions/listen stream to be acknowledged
MAX_ROUNDS = 10  # input_required rounds before the host gives up on a request


class Transport(Protocol):
    label: str
    peer: str  # the server's name in trace events
    on_log: Callable[[Notification], None]
    answer: Callable[[Request], Awaitable[Reply]]  # to the server's requests (asking.py)

    async def request(self, message: Request,
                      on_notification: Callable[[Notification], None] | None = None) -> Reply: ...
    async def notify(self, message: Notification) -> None: ...
    async def close(self) -> Any: ...


@dataclass(frozen=True)
class ToolInfo:
    """One entry of ``tools/list``, with what the guards need to know about it."""

    name: str
    description: str
    input_schema: dict[str, Any]
    annotations: dict[str, Any] = field(default_factory=dict)

    @property
    def destructive(self) -> bool:
        """By the hints and their defaults: not read-only, and not ``destructiveHint: false``."""
        return is_destructive(self.annotations)

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> ToolInfo:
        return cls(entry["name"], entry.get("description", ""), entry.get("inputSchema") or {},
                   entry.get("annotations") or {})


@dataclass(frozen=True)
class ToolResult:
    """A ``CallToolResult``: the structured value if any, the text otherwise, and isError."""

    is_error: bool
    structured: Any
    text: str

    @property
    def value(self) -> Any:
        return self.structured if self.structured is not None else self.text

    @classmethod
    def from_json(cls, result: dict[str, Any]) -> ToolResult:
        texts = [c.get("text", "") for c in result.get("content") or [] if c.get("type") == "text"]
        return cls(bool(result.get("isError", False)), result.get("structuredContent"), "\n".join(texts))


class McpClient:
    """One connection from the host to one MCP server."""

    def __init__(self, transport: Transport, session: ClientSession, trace: Trace,
                 answerer: Answerer | None = None, peer: str = "server") -> None:
        self.transport = transport
        self.session = session
        # Trace events name both ends as each names itself: the server's actor name (``peer``,
        # e.g. "mcp" for ours), and ours, which is also the clientInfo.name the server reads.
        transport.peer = peer
        if trace.actor:
            session.client_info = {**session.client_info, "name": trace.actor}
        self.answerer = answerer
        if answerer is not None:  # we answer sampling and elicitation: say so (initialize, or _meta)
            session.client_capabilities = {"sampling": {}, "elicitation": {}}
            transport.answer = answerer.answer
        self.trace = trace
        self.tools: dict[str, ToolInfo] = {}
        self.logs: list[dict[str, Any]] = []  # notifications/message params, for checks
        self.watching: dict[str, OnUpdated] = {}  # subscribed URI -> its callback
        self.updates: list[str] = []  # the URI of every notifications/resources/updated received
        self._listening: asyncio.Task[dict[str, Any]] | None = None  # 2026-07-28: the listen request
        self._acked = asyncio.Event()
        self._tokens = itertools.count(1)
        transport.on_log = self._on_log

    @classmethod
    async def stdio(cls, argv: Sequence[str], trace: Trace, *, versions: tuple[str, ...] = (MODERN, LEGACY),
                    log_level: str | None = None, env: dict[str, str] | None = None,
                    probe_timeout: float = 10.0, stderr: TextIO | None = None,
                    answerer: Answerer | None = None, peer: str = "server") -> McpClient:
        """Start ``argv`` and connect.  ``probe_timeout``: how long silence after
        ``server/discover`` is waited out before deciding the server is legacy; it
        includes the child's start-up, which takes seconds on a busy machine.
        ``stderr``: where the child's log lines go (default: ours)."""
        transport = StdioTransport(trace, stderr)
        await transport.start(argv, env)
        client = cls(transport, ClientSession(versions=versions, log_level=log_level), trace, answerer, peer)
        try:
            await client.connect(probe_timeout)
        except BaseException:
            await transport.close()
            raise
        return client

    @classmethod
    async def http(cls, url: str, trace: Trace, *, versions: tuple[str, ...] = (MODERN, LEGACY),
                   token: str | None = None, log_level: str | None = None,
                   http: httpx.AsyncClient | None = None, answerer: Answerer | None = None,
                   peer: str = "server") -> McpClient:
        transport = HttpTransport(url, trace, token=token, http=http)
        client = cls(transport, ClientSession(versions=versions, log_level=log_level), trace, answerer, peer)
        try:
            await client.connect(probe_timeout=None)  # over HTTP a legacy server answers 4xx, not silence
        except BaseException:
            await transport.close()
            raise
        return client

    async def connect(self, probe_timeout: float | None = 10.0) -> None:
        """Negotiate the revision: probe, maybe fall back, maybe the handshake."""
        message: Request | None = self.session.open()
        while self.session.phase is Phase.DISCOVERING and message is not None:
            try:
                reply: Reply | None = await asyncio.wait_for(self.transport.request(message), probe_timeout)
            except TimeoutError:
                reply = None  # silence is a legacy answer too (stdio "Backward Compatibility")
            message = self.session.on_discover(reply)
            if self.session.phase is Phase.INITIALIZING:
                self.trace.state("no modern answer to server/discover: falling back to initialize")
        if self.session.phase is Phase.INITIALIZING and message is not None:
            initialized = self.session.on_initialize(await self.transport.request(message))
            await self.transport.notify(initialized)
            self.trace.state(f"initialized, protocol {self.session.version} "
                             f"(server {self.session.server_info.get('name', '?')})")
        else:
            self.trace.state(f"modern, protocol {self.session.version}: no handshake, _meta on every request "
                             f"(server {self.session.server_info.get('name', '?')})")

    async def request(self, method: str, params: dict[str, Any] | None = None,
                      on_notification: Callable[[Notification], None] | None = None,
                      progress_token: str | None = None) -> dict[str, Any]:
        params = dict(params or {})
        for _round in range(MAX_ROUNDS):
            message = self.session.request(method, params, progress_token=progress_token)
            reply = await self.transport.request(message, on_notification)
            if not (isinstance(reply, Response) and reply.result.get("resultType") == "input_required"
                    and self.answerer is not None):
                return result_of(reply)  # complete, an error, or input_required we cannot answer
            # 2026-07-28 multi round-trip: answer what it asks, then retry with a new id (asking.py)
            asked = reply.result.get("inputRequests") or {}
            self.trace.state(f"#{message.id} needs input: {', '.join(asked) or 'none, only state'}; "
                             "answering, then retrying")
            params = {k: v for k, v in params.items() if k not in ("inputResponses", "requestState")}
            if asked:
                params["inputResponses"] = await answer_inputs(self.answerer.answer, asked)
            if "requestState" in reply.result:
                params["requestState"] = reply.result["requestState"]  # echoed byte for byte, never read
        raise ProtocolError(f"{method}: still input_required after {MAX_ROUNDS} rounds")

    async def list_tools(self) -> list[ToolInfo]:
        tools: list[ToolInfo] = []
        cursor: str | None = None
        for _page in range(100):  # a bound: a server that pages forever is a bug
            result = await self.request("tools/list", {"cursor": cursor} if cursor else {})
            tools.extend(ToolInfo.from_json(entry) for entry in result.get("tools", []))
            cursor = result.get("nextCursor")
            if not cursor:
                break
        self.tools = {tool.name: tool for tool in tools}
        schemas = getattr(self.transport, "tool_schemas", None)
        if schemas is not None:
            schemas.update({tool.name: tool.input_schema for tool in tools})  # for Mcp-Param-* headers
        return tools

    async def call_tool(self, name: str, arguments: dict[str, Any],
                        on_progress: OnProgress | None = None, timeout: float | None = None) -> ToolResult:
        """``tools/call``; a timeout (or cancelling the caller) cancels the request on the server."""
        token = f"progress-{next(self._tokens)}" if on_progress else None

        def progress(note: Notification) -> None:
            if note.method == "notifications/progress" and on_progress is not None:
                p = note.params
                on_progress(p.get("progress", 0), p.get("total"), p.get("message"))
            else:
                self._on_log(note)

        call = self.request("tools/call", {"name": name, "arguments": arguments}, progress, token)
        result = await asyncio.wait_for(call, timeout) if timeout else await call
        return ToolResult.from_json(result)

    async def complete(self, ref: dict[str, Any], name: str, typed: str,
                       context: dict[str, str] | None = None) -> list[str]:
        """The server's suggestions for argument ``name`` of ``ref`` (ref/prompt or ref/resource)."""
        params: dict[str, Any] = {"ref": ref, "argument": {"name": name, "value": typed}}
        if context:
            params["context"] = {"arguments": context}
        result = await self.request("completion/complete", params)
        return [str(v) for v in (result.get("completion") or {}).get("values", [])]

    async def listen(self) -> None:
        """Hear what belongs to no request of ours: over legacy HTTP, open the session's GET stream
        (notifications, and the server's own requests once the call that asks has returned);
        over stdio everything arrives on stdout anyway."""
        listen = getattr(self.transport, "listen", None)
        if listen is not None:
            await listen()

    async def subscribe(self, uri: str, on_updated: OnUpdated | None = None) -> None:
        """From now on the server says when ``uri`` changes, in either revision.

        2025-11-25: ``resources/subscribe``; over HTTP the notifications come on the
        session's GET stream, so it is opened first; over stdio, between responses.
        2026-07-28: a ``subscriptions/listen`` stream for every watched URI (``_relisten``).
        """
        self.watching[uri] = on_updated or (lambda changed: None)
        try:
            if self.session.modern:
                await self._relisten()
            else:
                await self.listen()
                await self.request("resources/subscribe", {"uri": uri})
        except BaseException:
            self.watching.pop(uri, None)
            raise

    async def unsubscribe(self, uri: str) -> None:
        if self.session.modern:
            self.watching.pop(uri, None)
            await self._relisten()
        else:
            await self.request("resources/unsubscribe", {"uri": uri})
            self.watching.pop(uri, None)

    async def _relisten(self) -> None:
        """2026-07-28: close the old listen stream, open one for the watched URIs, wait for its ack.

        The filter of a stream is fixed when it opens, so watching another URI means a new stream;
        cancelling the old request closes it (HTTP: its SSE stream; stdio: notifications/cancelled).
        """
        old, self._listening = self._listening, None
        if old is not None:
            old.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await old
        if not self.watching:
            return
        self._acked = asyncio.Event()
        task = asyncio.create_task(self.request(
            "subscriptions/listen", {"notifications": {"resourceSubscriptions": sorted(self.watching)}},
            self._on_log))
        self._listening = task
        acked = asyncio.create_task(self._acked.wait())
        await asyncio.wait({task, acked}, timeout=ACK_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        acked.cancel()
        if task.done():
            task.result()  # the server refused it: raise its error
            raise ProtocolError("the subscriptions/listen stream ended before it was acknowledged")
        if not self._acked.is_set():
            task.cancel()
            raise ProtocolError(f"subscriptions/listen: no acknowledgment within {ACK_TIMEOUT} s")

    def _on_log(self, note: Notification) -> None:
        if note.method == "notifications/message":
            self.logs.append(note.params)
        elif note.method == "notifications/subscriptions/acknowledged":
            self._acked.set()
        elif note.method == "notifications/resources/updated":
            uri = str(note.params.get("uri"))
            self.updates.append(uri)
            if uri in self.watching:
                self.watching[uri](uri)

    async def close(self) -> None:
        if self._listening is not None:
            self._listening.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listening
        self.session.close()
        await self.transport.close()


# -- the command line -------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_mcp.host.client",
                                     description=__doc__.split("\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stdio", metavar="COMMAND", help="start this server command and talk over stdio")
    where.add_argument("--url", help="the Streamable HTTP endpoint, e.g. http://127.0.0.1:8931/mcp")
    parser.add_argument("--token", help="bearer token for the HTTP endpoint")
    era = parser.add_mutually_exclusive_group()
    era.add_argument("--legacy", action="store_true", help=f"only {LEGACY}: the initialize handshake")
    era.add_argument("--modern", action="store_true", help=f"only {MODERN}: never fall back")
    parser.add_argument("--call", nargs=2, metavar=("TOOL", "JSON_ARGS"), help="call one tool")
    add_verbosity(parser)  # -v: every message's JSON and headers; -q: only the tools and the result
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    trace = Trace("host", verbose=args.verbose, quiet=args.quiet)
    versions = (LEGACY,) if args.legacy else (MODERN,) if args.modern else (MODERN, LEGACY)
    try:
        if args.stdio:
            client = await McpClient.stdio(shlex.split(args.stdio), trace, versions=versions)
        else:
            client = await McpClient.http(args.url, trace, versions=versions, token=args.token)
    except (httpx.HTTPError, ConnectionError) as exc:
        raise SetupError(f"cannot talk to the server: {exc or type(exc).__name__}",
                         "is it running? python -m learn_mcp.server --transport http --port 8931") from None
    try:
        tools = await client.list_tools()
        for tool in tools:
            flag = " (destructive)" if tool.destructive else ""
            print(f"  tool {tool.name}{flag}: {tool.description}")
        if args.call:
            name, raw = args.call
            result = await client.call_tool(
                name, json.loads(raw), on_progress=lambda p, t, m: print(f"  progress {p}/{t} {m or ''}"))
            print(json.dumps(result.value, indent=2))
            check(not result.is_error, f"{name} returned an error: {result.text}")
    finally:
        await client.close()


if __name__ == "__main__":
    run_main(lambda: main(sys.argv[1:]))
