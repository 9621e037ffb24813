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

(The module is called ``wiretrace`` and not ``trace`` because ``trace`` is a
standard-library module: wirelab never shadows a module you might import.)
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from typing import TextIO

SENT = ">"
RECEIVED = "<"
STATE = "="
NOTE = "#"

_lock = threading.Lock()


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


class Trace:
    """Prints trace lines for one actor (``"server"``, ``"alice"``, ...).

    ``verbose`` decides whether detail lines are shown; ``quiet`` silences every
    line but those marked ``always`` (a server's ready line).  ``stream``
    defaults to stdout; tests pass an ``io.StringIO`` to read what was printed.
    """

    def __init__(self, actor: str = "", verbose: bool = False, stream: TextIO | None = None,
                 quiet: bool = False) -> None:
        self.actor = actor
        self.verbose = verbose
        self.stream = stream
        self.quiet = quiet

    def child(self, actor: str) -> Trace:
        """A trace for another actor that shares this one's settings."""
        return Trace(actor, self.verbose, self.stream, self.quiet)

    def sent(self, summary: str, detail: Iterable[str] = ()) -> None:
        self._emit(SENT, summary, detail)

    def received(self, summary: str, detail: Iterable[str] = ()) -> None:
        self._emit(RECEIVED, summary, detail)

    def state(self, summary: str, detail: Iterable[str] = (), always: bool = False) -> None:
        self._emit(STATE, summary, detail, always)

    def note(self, text: str) -> None:
        """Narration: what the demo is about to show."""
        self._emit(NOTE, text, ())

    def banner(self, title: str) -> None:
        """A demo's act heading: a narration line between two rules."""
        rule = "-" * 72
        stream = self.stream or sys.stdout
        with _lock:
            stream.write(f"\n{rule}\n")
        self.note(title)
        with _lock:
            stream.write(f"{rule}\n")
            stream.flush()

    def _emit(self, mark: str, summary: str, detail: Iterable[str], always: bool = False) -> None:
        if self.quiet and not always:
            return
        who = f"{self.actor:<8} " if self.actor else ""
        lines = [f"{mark} {who}{summary}"]
        if self.verbose:
            lines.extend(f"      {line}" for line in detail)
        stream = self.stream or sys.stdout
        with _lock:
            stream.write("\n".join(lines) + "\n")
            stream.flush()
