"""The stdio transport, host side: start the server as a child, one JSON-RPC message per line.

Reading order: client_session -> **client_stdio** -> client_http -> client -> agent.

2026-07-28 "stdio" (and 2025-11-25 "Transports", stdio): the host launches the server
as a subprocess; it writes requests to the child's stdin and reads everything the child
says from its stdout, one JSON object per line, never a newline inside one.  The
child's stderr is a log, not an error channel, so we pass it through with a prefix.

One stdout carries every reply, so this driver keeps a table of requests in flight
(``id`` -> future) and of progress tokens (token -> callback), and a reader task sorts
each line into the right place.  Cancelling the coroutine that awaits a request sends
``notifications/cancelled`` for it: stdio has no per-request stream to close.

Shutdown follows the spec's order: close stdin, wait, then SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from wirelab_common.errors import SetupError
from wirelab_common.wiretrace import Trace

from .. import jsonrpc
from ..jsonrpc import ErrorResponse, Message, Notification, Request, Response, correlation_id
from ..summary import describe
from .client_session import (
    ProtocolError,
    Reply,
    cancelled_notification,
    classify,
    default_answer,
    progress_token_of,
)

OnNotification = Callable[[Notification], None]
LINE_LIMIT = 4 * 1024 * 1024  # one message per line: allow large results, not unbounded ones


class StdioTransport:
    """A server child process, and the JSON-RPC traffic on its stdin/stdout."""

    def __init__(self, trace: Trace, stderr: TextIO | None = None) -> None:
        self.trace = trace
        self.stderr = stderr or sys.stderr
        self.process: asyncio.subprocess.Process | None = None
        self._pending: dict[int | str, asyncio.Future[Reply]] = {}
        self._progress: dict[int | str, OnNotification] = {}
        self.on_log: OnNotification = lambda n: None  # notifications not tied to a progress token
        self._tasks: list[asyncio.Task[None]] = []
        self.answer = default_answer  # how we answer the server's requests (McpClient may set one)
        self._answering: set[asyncio.Task[None]] = set()
        self.label = "stdio"
        self.peer = "server"  # the server's own name in the trace events (McpClient sets it)
        self._token_request: dict[int | str, int | str] = {}  # progress token -> its request's id

    async def start(self, argv: Sequence[str], env: dict[str, str] | None = None) -> None:
        try:
            self.process = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, env=env, limit=LINE_LIMIT)
        except FileNotFoundError as exc:
            raise SetupError(f"cannot start the MCP server {argv[0]!r}: {exc.strerror}",
                             "check the server command line") from None
        self.label = f"stdio pid {self.process.pid}"
        self.trace.state(f"started {' '.join(argv)} (pid {self.process.pid})")
        self._tasks = [asyncio.create_task(self._read_stdout()), asyncio.create_task(self._pass_stderr())]

    async def _write(self, message: Message) -> None:
        assert self.process is not None and self.process.stdin is not None
        line = jsonrpc.serialize(message)  # compact JSON: never a newline inside
        self.trace.sent(describe(message), [line.decode()], peer=self.peer, cid=correlation_id(message))
        self.process.stdin.write(line + b"\n")
        await self.process.stdin.drain()

    async def request(self, message: Request, on_notification: OnNotification | None = None) -> Reply:
        """Send one request and wait for its reply; cancelling the wait cancels the request."""
        request_id = message.id
        token = progress_token_of(message)
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        if token is not None and on_notification is not None:
            self._progress[token] = on_notification
            self._token_request[token] = request_id
        try:
            await self._write(message)
            return await future
        except asyncio.CancelledError:
            if self.process is not None and self.process.returncode is None:
                # Shielded: we are being cancelled, yet the server must hear about it.
                await asyncio.shield(self._write(cancelled_notification(request_id, "cancelled by the host")))
            raise
        finally:
            self._pending.pop(request_id, None)
            if token is not None:
                self._progress.pop(token, None)
                self._token_request.pop(token, None)

    async def notify(self, message: Notification) -> None:
        await self._write(message)

    async def _read_stdout(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while True:
            try:
                line = await self.process.stdout.readline()
            except ValueError:  # a line longer than LINE_LIMIT
                self._fail(ProtocolError(f"a line from the server exceeded {LINE_LIMIT} bytes"))
                return
            if not line:
                break
            text = line.decode("utf-8", "replace").strip()
            if not text:
                continue
            try:
                message = json.loads(text)
                incoming = classify(message)
            except (json.JSONDecodeError, ProtocolError) as exc:
                # The server MUST NOT write anything else on stdout; say so and go on.
                self.trace.received(f"not a JSON-RPC message: {text[:80]!r} ({exc})", peer=self.peer)
                continue
            about = self._token_request.get(progress_token_of(incoming)) \
                if isinstance(incoming, Notification) else None  # a progress notification's request
            cid = correlation_id(incoming) or (None if about is None else str(about))
            self.trace.received(describe(incoming), [text], peer=self.peer, cid=cid)
            await self._dispatch(incoming)
        self._fail(ConnectionError("the server closed its stdout"))

    async def _dispatch(self, incoming: Message) -> None:
        if isinstance(incoming, Response | ErrorResponse):
            future = self._pending.get(incoming.id) if incoming.id is not None else None
            if future is not None and not future.done():
                future.set_result(incoming)
            # else: a late reply to a request we cancelled; the spec says to ignore it.
        elif isinstance(incoming, Request):
            # Its own task: the answer may wait for the user, and stdout must keep being read.
            task = asyncio.create_task(self._answer(incoming))
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)
        else:
            handler = self._progress.get(progress_token_of(incoming), self.on_log)  # type: ignore[arg-type]
            handler(incoming)

    async def _answer(self, request: Request) -> None:
        await self._write(await self.answer(request))

    async def _pass_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        async for line in self.process.stderr:
            self.stderr.write(f"  [server stderr] {line.decode('utf-8', 'replace').rstrip()}\n")
            self.stderr.flush()

    def _fail(self, exc: Exception) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(exc)

    async def close(self, grace: float = 3.0) -> int | None:
        """Close stdin, wait for the exit; SIGTERM, then SIGKILL if it does not come."""
        process = self.process
        if process is None:
            return None
        if process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()
        for step in ("stdin closed", "terminate", "kill"):
            try:
                await asyncio.wait_for(process.wait(), grace)
                break
            except TimeoutError:
                if step == "stdin closed":
                    process.terminate()
                elif step == "terminate":
                    process.kill()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.trace.state(f"server exited with code {process.returncode}")
        return process.returncode
