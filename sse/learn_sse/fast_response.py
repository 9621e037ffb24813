"""The fast path of the event stream's response, kept apart from the lesson.

Reading order: after app and server; only for the benchmark's sake.

``app.py`` answers ``GET /events`` with sse-starlette's :class:`EventSourceResponse`,
as the library documents it.  For every response that class starts an anyio task
group of four tasks: the stream, a heartbeat loop, a shutdown listener and a
disconnect listener; and it sends each chunk through a per-send timeout wrapper,
a debug log call and a ``try`` that closes the generator on failure.  With 1,000
streams and a burst of events that was the difference between our server and a
plain Starlette ``StreamingResponse`` (``bench/bench_sse.py``; the profile is in
the README).

:class:`LeanEventSourceResponse` keeps the class's headers and bytes and does the
same jobs with less:

- the stream runs in one task of its own (no task group), which the request's
  task awaits;
- one watcher task does both other jobs: it waits for the client's
  ``http.disconnect`` with the heartbeat interval as its timeout, sends a
  heartbeat each time that timeout passes, and on a disconnect cancels the stream,
  so the generator's ``finally`` runs at once, as with the library's class;
- no shutdown listener: our server ends every stream itself on SIGTERM by
  closing the event log (``server.py``), which is why the library's listener
  stays idle there anyway.

Each chunk of the stream and each heartbeat go to uvicorn's own ``send``, which
:func:`with_raw_send` (the server wraps the whole app in it) leaves in the
request's scope: on their way there, a chunk would otherwise pass through three
wrappers of the middleware stack (Starlette's error and exception middleware, and
the route's exception handler), which only note the response *start*, and the
start still goes through them.  Without that wrapper (an app run by a test
client, say), every message takes the usual way.

Anything else (a send timeout, a HEAD request, a shutdown event, a disconnect
callback, a data sender, a background task) goes to the library's own
``__call__``.  The server uses this class by default; ``--plain-response`` picks
the library's (``tests/sse/test_fast_response.py`` checks that both put the same
bytes on the wire, send heartbeats, and stop the generator when the client goes).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.event import ensure_bytes
from starlette.types import ASGIApp, Receive, Scope, Send

RAW_SEND = "learn_sse.raw_send"  # the scope key of the server's own send (with_raw_send)


def with_raw_send(app: ASGIApp) -> ASGIApp:
    """``app`` with the server's ``send`` kept in each HTTP request's scope, for the stream's chunks."""
    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[RAW_SEND] = send
        await app(scope, receive, send)
    return wrapped


class LeanEventSourceResponse(EventSourceResponse):
    """sse-starlette's response, streamed from one task with one watcher beside it."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"].upper() == "HEAD" or self.send_timeout is not None
                or self._shutdown_event is not None or self.client_close_handler_callable is not None
                or self.data_sender_callable is not None or self.background is not None):
            await super().__call__(scope, receive, send)  # the cases this class does not cover
            return
        self._client_gone = False
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        chunk = scope.get(RAW_SEND, send)  # with_raw_send's: past the middleware, for the body
        # The stream in a task of its own: a wake-up resumes its few frames, not the ~20 of
        # the request's middleware and routing that the request's task is suspended in.
        stream = asyncio.create_task(self._stream(chunk))
        watcher = asyncio.create_task(self._watch(receive, chunk, stream))
        try:
            await stream  # a cancellation of this task (the server's) cancels the stream too
            self.active = False
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)  # no heartbeat after the last chunk
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not (self._client_gone and stream.cancelled()):
                raise  # not ours: let the server's cancellation go on
            # the client went away: the response ends quietly, as in the library
        finally:
            self.active = False
            watcher.cancel()
            if not stream.done():
                stream.cancel()
                await asyncio.gather(stream, return_exceptions=True)
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                await aclose()  # a no-op after a normal end; runs the generator's cleanup otherwise

    async def _stream(self, chunk: Send) -> None:
        """Every chunk of the body, as the generator yields it."""
        sep = self.sep
        async for data in self.body_iterator:
            await chunk({"type": "http.response.body", "more_body": True,
                         "body": data if type(data) is bytes else ensure_bytes(data, sep)})

    async def _watch(self, receive: Receive, send: Send, stream: asyncio.Task) -> None:
        """Heartbeats every ``ping_interval`` s while waiting for the client's disconnect."""
        interval = self.ping_interval or None  # 0: no heartbeats, just wait
        while self.active:
            try:
                async with asyncio.timeout(interval):
                    message = await receive()
            except TimeoutError:
                ping = (self.ping_message_factory() if self.ping_message_factory
                        else ServerSentEvent(comment=f"ping - {datetime.now(UTC)}", sep=self.sep))
                await send({"type": "http.response.body", "body": ensure_bytes(ping, self.sep),
                            "more_body": True})
                continue
            if message["type"] == "http.disconnect":
                self.active = False
                self._client_gone = True
                stream.cancel()
                return
