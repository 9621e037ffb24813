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

- the stream runs in the request's own task (no task group);
- one watcher task does both other jobs: it waits for the client's
  ``http.disconnect`` with the heartbeat interval as its timeout, sends a
  heartbeat each time that timeout passes, and on a disconnect cancels the stream,
  so the generator's ``finally`` runs at once, as with the library's class;
- no shutdown listener: our server ends every stream itself on SIGTERM by
  closing the event log (``server.py``), which is why the library's listener
  stays idle there anyway.

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
from starlette.types import Receive, Scope, Send


class LeanEventSourceResponse(EventSourceResponse):
    """sse-starlette's response, streamed from the request's task with one watcher beside it."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"].upper() == "HEAD" or self.send_timeout is not None
                or self._shutdown_event is not None or self.client_close_handler_callable is not None
                or self.data_sender_callable is not None or self.background is not None):
            await super().__call__(scope, receive, send)  # the cases this class does not cover
            return
        stream = asyncio.current_task()
        assert stream is not None
        self._client_gone = False
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        watcher = asyncio.create_task(self._watch(receive, send, stream))
        try:
            async for data in self.body_iterator:
                await send({"type": "http.response.body", "body": ensure_bytes(data, self.sep),
                            "more_body": True})
            self.active = False
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)  # no heartbeat after the last chunk
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not self._client_gone:
                raise  # not ours: let the server's cancellation go on
            stream.uncancel()  # the client went away: the response ends quietly, as in the library
        finally:
            self.active = False
            watcher.cancel()
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                await aclose()  # a no-op after a normal end; runs the generator's cleanup otherwise

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
