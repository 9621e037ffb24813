"""stdio: newline-delimited JSON-RPC on stdin/stdout (the asyncio driver for a subprocess server).

Reading order: ... -> server_core -> **stdio_transport** / sessions + http_headers + http_transport
-> server.

Spec: 2025-11-25 basic/transports §stdio and 2026-07-28 basic/transports/stdio.
The client starts the server as a child process; each message is one line of
JSON (no newline inside: jsonrpc.serialize guarantees it).  stdout carries
nothing but protocol messages, so every trace line goes to stderr.

The whole process is one connection, so one :class:`~learn_mcp.lifecycle.Lifecycle`
holds the legacy handshake; modern requests ignore it.  Each request runs as
its own task, so a slow tool does not hold up the next line, and
``notifications/cancelled`` (the only way to cancel on stdio) cancels the task:
the server then sends nothing more for that request.  End of input is the
shutdown signal: running requests are cancelled and the process exits 0.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Coroutine
from typing import BinaryIO

from wirelab_common.server_cli import announce
from wirelab_common.wiretrace import Trace, shorten

from .jsonrpc import (
    ErrorResponse,
    JsonRpcError,
    Message,
    Notification,
    Request,
    RequestId,
    Response,
    correlation_id,
    parse,
    serialize,
)
from .lifecycle import Event, Lifecycle, client_name
from .outbox import Outbox
from .server_core import Call, ServerCore
from .summary import describe

MAX_LINE = 4 << 20  # a message longer than this is refused rather than buffered without end
EOF_GRACE = 2.0  # seconds in-flight requests may finish after stdin closes


class StdioConnection:
    def __init__(self, core: ServerCore, reader: asyncio.StreamReader | None, output: BinaryIO, trace: Trace,
                 wire: Trace | None = None, limit: int = MAX_LINE) -> None:
        self.core, self.reader, self.output = core, reader, output
        self.limit = limit  # the longest line accepted (the reader's limit)
        self.trace, self.wire = trace, wire
        self.lifecycle = Lifecycle()
        self.tasks: dict[RequestId, asyncio.Task] = {}
        self.outbox = Outbox()  # our requests to the client (sampling, elicitation) awaiting answers
        self.peer = "client"  # what the client calls itself (clientInfo.name), for trace events

    def write(self, message: Message, about: RequestId | None = None) -> None:
        """One message on stdout; ``about``: the request a notification belongs to (its trace ``cid``)."""
        data = serialize(message)
        if self.wire:
            cid = correlation_id(message) or (None if about is None else str(about))
            self.wire.sent(describe(message), [shorten(data, 160)], peer=self.peer, cid=cid)
        # One write per message keeps lines whole; stdout is a pipe, so this rarely blocks.
        self.output.write(data + b"\n")
        self.output.flush()

    async def send(self, note: Notification) -> None:
        self.write(note)

    async def announce(self, note: Notification) -> None:
        """A change announced to all: this connection gets it if it wants it (subscriptions)."""
        if self.core.wants(self.lifecycle, note):
            self.write(note)

    async def serve(self) -> None:
        """Read lines until end of input (the lesson's reader; stdio_fast.py reads the same lines faster)."""
        assert self.reader is not None
        try:
            while True:
                try:
                    line = await self.reader.readuntil(b"\n")
                except asyncio.IncompleteReadError as exc:
                    line = exc.partial  # last line without a newline, or b"" at end of input
                    if not line.strip():
                        break
                except asyncio.LimitOverrunError:
                    self.write(JsonRpcError(-32600, f"message longer than {self.limit} bytes").to_response())
                    break  # the stream cannot be re-synchronised reliably
                if line.strip():
                    self.receive(line)
        finally:
            await self.finish()

    async def finish(self) -> None:
        """End of input: requests already read get a short grace to finish, then are cancelled."""
        try:
            if self.tasks:
                await asyncio.wait(list(self.tasks.values()), timeout=EOF_GRACE)
        finally:
            for task in list(self.tasks.values()):
                task.cancel()
            try:
                self.lifecycle.fire(Event.CLOSE)
            except JsonRpcError:
                pass
            self.trace.state("end of input: stopped")

    def receive(self, line: bytes) -> None:
        try:
            message = parse(line)
        except JsonRpcError as exc:
            if self.wire:
                self.wire.received(shorten(line.strip(), 160), peer=self.peer)
            self.write(exc.to_response())
            return
        if isinstance(message, Request | Notification):
            self.peer = client_name(message.params, self.lifecycle)
        if self.wire:
            self.wire.received(describe(message), [shorten(line.strip(), 160)], peer=self.peer,
                               cid=correlation_id(message))
        if isinstance(message, Request):
            if message.id in self.tasks:
                self.write(JsonRpcError(-32600, f"request id {message.id!r} is already in use")
                           .to_response(message.id))
                return
            before = self.lifecycle.phase
            try:
                call = self.core.prepare(message, self.lifecycle)  # now, in arrival order
            except JsonRpcError as exc:
                self.write(exc.to_response(message.id))
                return
            if self.lifecycle.phase is not before:
                self.trace.state(f"{before.value} -> {self.lifecycle.phase.value} "
                                 f"(protocol {self.lifecycle.protocol_version})")
            self.tasks[message.id] = asyncio.create_task(self.run(call))
        elif isinstance(message, Notification):
            before = self.lifecycle.phase
            cancel = self.core.handle_notification(message, self.lifecycle)
            if cancel is not None and cancel in self.tasks:
                self.tasks[cancel].cancel()
                self.trace.state(f"request {cancel!r} cancelled by the client")
            if self.lifecycle.phase is not before:
                self.trace.state(f"{before.value} -> {self.lifecycle.phase.value}")
        elif isinstance(message, Response | ErrorResponse) and not self.outbox.resolve(message):
            self.trace.state(f"answer to {message.id!r}: no request of ours is waiting for it (dropped)")

    async def run(self, call: Call) -> None:
        try:
            async def send(message: Notification) -> None:  # progress, logs, our requests: this call's
                self.write(message, about=call.request.id)

            self.write(await self.core.execute(call, send, self.announce, self.outbox))
        except asyncio.CancelledError:
            pass  # cancelled: MUST NOT answer (basic/utilities/cancellation)
        finally:
            self.tasks.pop(call.request.id, None)


async def serve_stdio(core: ServerCore, trace: Trace, wire: Trace | None = None) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_LINE)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    connection = StdioConnection(core, reader, sys.stdout.buffer, trace, wire)
    await until_stopped(connection.serve(), trace)


async def until_stopped(serve: Coroutine[None, None, None], trace: Trace) -> None:
    """Run ``serve`` until it ends (end of input) or SIGINT/SIGTERM arrives."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # a server exits 0 on SIGTERM, like end of input
        loop.add_signal_handler(sig, stop.set)
    announce(trace, "stdio")  # the ready line, on stderr (stdout is the protocol's)
    serving, stopping = asyncio.create_task(serve), asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    for task in (serving, stopping):
        task.cancel()
    await asyncio.gather(serving, stopping, return_exceptions=True)
