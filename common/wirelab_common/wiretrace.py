"""The wire trace: one line per thing that crossed the wire or changed state.

Every wirelab program prints the same three marks, borrowed from the debug log
of the python ``websockets`` library::

    > alice    TEXT '{"type": "say", "text": "hi"}'      something sent
    < alice    TEXT '{"type": "message", ...}'            something received
    = alice    CONNECTING -> OPEN                         a state change
    # the server restarts now                             narration (demos only)

With ``-v`` (``verbose=True``) each line may be followed by indented detail
lines: raw frame bytes, HTTP headers, packet fields.  Payloads are shortened so
that one event stays on one line.

The lines travel through the standard ``logging`` module, as python-websockets'
debug log does: each is a ``LogRecord`` of the logger ``wirelab.<actor>`` whose
extra fields (``mark``, ``actor``, ``detail``) :class:`TraceFormatter` turns
back into the line above.  So the warnings of uvicorn, websockets or aiortc
can share the same output (:func:`include_library_logs`, shown as
``! name: message``), a program can filter or redirect the trace with the usual
logging tools, and a test can read the records with pytest's ``caplog``.

(The module is called ``wiretrace`` and not ``trace`` because ``trace`` is a
standard-library module: wirelab never shadows a module you might import.)
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import TextIO

from . import trace_events

SENT = ">"
RECEIVED = "<"
STATE = "="
NOTE = "#"

ROOT_LOGGER = "wirelab"


def shorten(value: str | bytes, limit: int = 72) -> str:
    """A one-line rendering of ``value``, cut to about ``limit`` characters."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...(+{len(text) - limit} chars)"


def hexdump(data: bytes, limit: int = 32) -> str:
    """Bytes as spaced hex pairs, the first ``limit`` bytes only."""
    shown = " ".join(f"{b:02x}" for b in data[:limit])
    return shown + (f" ...(+{len(data) - limit} bytes)" if len(data) > limit else "")


class TraceFormatter(logging.Formatter):
    """A trace record as its line (and detail lines); any other record as ``! name: message``."""

    def format(self, record: logging.LogRecord) -> str:
        mark = getattr(record, "mark", None)
        if mark is None:  # a library's own log record (uvicorn, websockets, aiortc, ...)
            text = f"! {record.name}: {record.getMessage()}"
            if record.exc_info:
                text += "\n" + self.formatException(record.exc_info)
            return text
        if mark == "rule":
            return record.getMessage()
        actor = getattr(record, "actor", "")
        who = f"{actor:<8} " if actor else ""
        lines = [f"{mark} {who}{record.getMessage()}"]
        lines.extend(f"      {line}" for line in getattr(record, "detail", ()))
        return "\n".join(lines)


class _Output(logging.StreamHandler):
    """Writes formatted records to ``stream``, or to whatever ``sys.stdout`` is at that moment
    (pytest's capsys swaps it), one write per record so threads never interleave inside a line."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream or sys.stdout)
        self.fixed = stream
        self.setFormatter(TraceFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "text", True) is False:
            return  # an event for the events file only (a line that -q hides)
        stream = self.fixed or sys.stdout
        try:
            text = self.format(record) + "\n"
            with self.lock:  # type: ignore[union-attr]
                stream.write(text)
                stream.flush()
        except Exception:  # noqa: BLE001  (logging's contract: a failed write never raises)
            self.handleError(record)


def _root() -> logging.Logger:
    """The ``wirelab`` logger, writing to stdout unless a program configured it otherwise.

    With ``WIRELAB_TRACE_FILE`` set it also writes structured events (``trace_events``).
    """
    root = logging.getLogger(ROOT_LOGGER)
    if not root.handlers:
        root.addHandler(_Output())
        root.setLevel(logging.DEBUG)
        # Records still propagate to the root logger, which has no handler unless a program
        # (or pytest's caplog) adds one: that is how tests read the same lines.
        path = trace_events.requested()
        if path:
            trace_events.attach(root, path)
    return root


def events_logger() -> logging.Logger:
    return _root()


def _events_on() -> bool:
    """Is this process writing structured events (``trace_events``)?"""
    return any(isinstance(h, trace_events.JsonLinesHandler) for h in _root().handlers)


def include_library_logs(*names: str, level: int = logging.WARNING) -> None:
    """Show these libraries' log records in the trace, as ``! name: message`` lines."""
    handler = _root().handlers[0]
    for name in names:
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level)
        logger.propagate = False


class Trace:
    """Prints trace lines for one actor (``"server"``, ``"alice"``, ...).

    ``verbose`` decides whether detail lines are shown; ``quiet`` silences every
    line but those marked ``always`` (a server's ready line).  Without ``stream``
    the lines go to the ``wirelab.<actor>`` logger (stdout by default); with one
    (tests pass an ``io.StringIO``) they go to that stream alone.
    """

    def __init__(self, actor: str = "", verbose: bool = False, stream: TextIO | None = None,
                 quiet: bool = False, protocol: str | None = None) -> None:
        self.actor = actor
        self.verbose = verbose
        self.stream = stream
        self.quiet = quiet
        self.protocol = protocol  # for the structured events (trace_events.py)
        if stream is None:
            _root()
            self.logger = logging.getLogger(f"{ROOT_LOGGER}.{actor or 'main'}")
        else:  # a private logger, outside the hierarchy: only this stream sees it
            self.logger = logging.Logger(f"{ROOT_LOGGER}.{actor or 'main'}", logging.DEBUG)
            self.logger.addHandler(_Output(stream))

    def child(self, actor: str) -> Trace:
        """A trace for another actor that shares this one's settings."""
        return Trace(actor, self.verbose, self.stream, self.quiet, self.protocol)

    def sent(self, summary: str, detail: Iterable[str] = (), *, peer: str | None = None,
             cid: str | None = None) -> None:
        self._emit(SENT, summary, detail, peer=peer, cid=cid)

    def received(self, summary: str, detail: Iterable[str] = (), *, peer: str | None = None,
                 cid: str | None = None) -> None:
        self._emit(RECEIVED, summary, detail, peer=peer, cid=cid)

    def state(self, summary: str, detail: Iterable[str] = (), always: bool = False) -> None:
        self._emit(STATE, summary, detail, always)

    def note(self, text: str) -> None:
        """Narration: what the demo is about to show."""
        self._emit(NOTE, text, ())

    def banner(self, title: str) -> None:
        """A demo's act heading: a narration line between two rules."""
        if self.quiet:
            self.note(title)  # no text under -q, but the events file still marks the act
            return
        rule = "-" * 72
        self._log("rule", f"\n{rule}")
        self.note(title)
        self._log("rule", rule)

    def _emit(self, mark: str, summary: str, detail: Iterable[str], always: bool = False, *,
              peer: str | None = None, cid: str | None = None) -> None:
        events = self.stream is None and _events_on()
        text = not self.quiet or always
        if not (text or events):
            return
        lines = list(detail) if (self.verbose or events) else []
        self._log(mark, summary, lines if self.verbose else [], text=text, event_detail=lines,
                  peer=peer, cid=cid)

    def _log(self, mark: str, message: str, detail: list[str] | None = None, *, text: bool = True,
             event_detail: list[str] | None = None, peer: str | None = None, cid: str | None = None) -> None:
        extra = {"mark": mark, "actor": self.actor, "detail": detail or [], "text": text,
                 "event_detail": event_detail if event_detail is not None else (detail or []),
                 "peer": peer, "protocol": self.protocol, "cid": cid}
        self.logger.info("%s", message, extra=extra)
