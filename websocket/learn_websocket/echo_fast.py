"""The echo server's fast path: replies written from the protocol callback.

Not in the reading order: read ``server.echo`` (a handler coroutine, ``async for
message in ws: await ws.send(message)``) for what the server does.  This is what
``python -m learn_websocket.server`` runs unless told ``--echo plain``, because
the echo benchmark (``bench/bench_websocket.py --only echo``) measures it.

The lesson's echo costs two hand-offs per message: ``data_received`` queues the
message and wakes the handler task, and the handler's ``send`` writes the reply.
:class:`EchoWebSocket` answers inside ``data_received`` instead: each message the
connection read is sent back at once through the same ``protocol.Connection``,
and every reply of one read goes out in one ``transport.write``.  No task switch,
no future per message.  The rules are the connection's either way: the same
frames are parsed, UTF-8 is checked, pings answered, and nothing is echoed once a
close frame arrived (§5.5.1), which is also what the lesson's handler does, since
its ``send`` refuses after a close.

Backpressure has to be explicit here, because no ``await send()`` can block: when
the transport's buffer is full (``pause_writing``: the client reads slower than it
sends) we stop reading from it until the buffer drains, so an echo never grows
memory without bound.

``tests/websocket/test_echo_fast.py`` sends the same bytes to a server of each
kind and requires the same bytes back.
"""

from __future__ import annotations

from .aio import WebSocket
from .protocol import BinaryMessage, Pong, State, TextMessage


class EchoWebSocket(WebSocket):
    """A :class:`~learn_websocket.aio.WebSocket` that echoes every message as it is parsed."""

    def _process(self) -> None:
        connection = self.connection
        for event in connection.events_received():
            kind = type(event)
            if kind is TextMessage:
                if connection.state is State.OPEN:  # after a close, §5.5.1: nothing but the close
                    connection.send_text(event.text)
            elif kind is BinaryMessage:
                if connection.state is State.OPEN:
                    connection.send_binary(event.data)
            elif kind is Pong:
                self._pong_received(event.data)
        self._flush()
        self._wake_recv()
        if connection.state is State.CLOSED:
            self._close_transport()

    def pause_writing(self) -> None:
        super().pause_writing()
        if not self._reading_paused and not self.transport.is_closing():
            self._reading_paused = True  # the client is not reading its echoes: stop reading its messages
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._reading_paused and not self.transport.is_closing():
            self._reading_paused = False
            self.transport.resume_reading()


async def wait_for_close(ws: WebSocket) -> None:
    """The handler that goes with :class:`EchoWebSocket`: the echo already happens in the callback."""
    await ws.wait_closed()
