"""The fast path of the event stream's response, kept apart from the lesson.

Reading order: after app and server; only for the benchmark's sake.

``app.py`` answers ``GET /events`` with sse-starlette's :class:`EventSourceResponse`,
as the library documents it.  That class wraps every chunk's ``send`` in an anyio
cancel scope for its optional per-send timeout, even when that timeout is None.
With 1,000 streams and a burst of events the scope cost about a fifth of the
server's time (``bench/bench_sse.py``), for nothing here: no send timeout is set,
because the heartbeat and disconnect detection already end dead streams.

:class:`LeanEventSourceResponse` skips the scope when there is no timeout and
sends the very same messages.  The server uses it by default; ``--plain-response``
picks the library's own class (``tests/sse/test_fast_response.py`` checks that
both put the same bytes on the wire).
"""

from __future__ import annotations

from sse_starlette import EventSourceResponse


class LeanEventSourceResponse(EventSourceResponse):
    """sse-starlette's response, minus a timer per chunk when no send timeout is set."""

    async def _send_with_timeout(self, send, message) -> None:  # type: ignore[override]
        if self.send_timeout is None:
            await send(message)
        else:
            await super()._send_with_timeout(send, message)
