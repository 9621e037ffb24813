"""The trace as structured events: one JSON object per line, for tools that draw the wire.

The text trace is for a terminal; a viewer, a test or a script wants fields.
Asked for, every trace line is also written to a JSON Lines file, from the same
call that prints it (``Trace.sent`` and friends), so text and events never
drift.  Two ways to ask:

- ``--trace-file PATH`` on any program built on ``server_cli`` (servers and clients);
- ``WIRELAB_TRACE_FILE=PATH`` in the environment: every process of a demo
  inherits it, so one file collects the servers', the clients' and the demo's
  events, interleaved by time (each line is one ``write`` to a file opened
  for appending, so processes never split each other's lines).

An event::

    {"t": 1796650000.123456, "pid": 4242, "actor": "alice", "direction": "sent",
     "summary": "TEXT 'hi'", "detail": ["81 82 ..."], "peer": "s1",
     "protocol": "websocket", "cid": null}

``direction`` is ``sent``, ``received``, ``state`` or ``note`` (the marks ``>``
``<`` ``=`` ``#``).  ``detail`` is always there, ``-v`` or not.  ``peer``,
``protocol`` and ``cid`` (a correlation id: message id, stream id, job id,
query id...) are filled where the program passes them to the trace.
"""

from __future__ import annotations

import json
import logging
import os

ENV = "WIRELAB_TRACE_FILE"
DIRECTIONS = {">": "sent", "<": "received", "=": "state", "#": "note"}


class JsonLinesHandler(logging.Handler):
    """Appends each trace record to ``path`` as one JSON line."""

    def __init__(self, path: str) -> None:
        super().__init__(logging.DEBUG)
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def emit(self, record: logging.LogRecord) -> None:
        direction = DIRECTIONS.get(getattr(record, "mark", ""))
        if direction is None:
            return  # a rule line of a banner, or a library's record
        event = {
            "t": round(record.created, 6), "pid": record.process,
            "actor": getattr(record, "actor", ""), "direction": direction,
            "summary": record.getMessage(), "detail": getattr(record, "event_detail", []),
            "peer": getattr(record, "peer", None), "protocol": getattr(record, "protocol", None),
            "cid": getattr(record, "cid", None),
        }
        try:
            os.write(self.fd, (json.dumps(event, ensure_ascii=False) + "\n").encode())
        except OSError:
            self.handleError(record)

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass
        super().close()


def requested() -> str | None:
    """The events file this process was asked to write, if any."""
    return os.environ.get(ENV) or None


def attach(logger: logging.Logger, path: str) -> None:
    """Write ``logger``'s trace records to ``path`` too (once per path)."""
    if not any(isinstance(h, JsonLinesHandler) and h.path == path for h in logger.handlers):
        logger.addHandler(JsonLinesHandler(path))


def record_to(path: str) -> None:
    """From now on, this process and the processes it starts write events to ``path``."""
    os.environ[ENV] = path  # inherited by every child: servers, clients, peers
    from .wiretrace import events_logger

    attach(events_logger(), path)


def read_events(path: str) -> list[dict]:
    """Every event in a file, in the order written (for tests and viewers)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
