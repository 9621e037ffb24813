"""The event stream format: bytes in, events out, and events back into text.

Reading order: **event_stream** -> event_log -> feed -> completions -> app -> server;
then client; then the page; then proxy.

This is the whole wire format of Server-Sent Events, from the WHATWG HTML
Living Standard, §9.2 "Server-sent events":

- §9.2.5 "Parsing an event stream": UTF-8 only, one leading BOM ignored,
  lines end in CRLF, LF or CR;
- §9.2.6 "Interpreting an event stream": what each line means, and when an
  event is dispatched;
- §9.2.7 "Authoring notes": what a server must write so that it parses back.

:class:`EventStreamParser` does no I/O and keeps no clock: feed it whatever
arrived (a chunk of any size, cut anywhere, even inside a UTF-8 character or
between the CR and the LF of a CRLF) and it returns every event completed so
far.  The client drives it; the tests feed it the standard's own examples.

    >>> parser = EventStreamParser()
    >>> parser.feed(b"data: YHOO\\ndata: +2\\ndata: 10\\n\\n")
    [Event(type='message', data='YHOO\\n+2\\n10', last_event_id='', id=None)]

The parser is on the client's hot path, so it never loops over characters in
Python: ``str.split`` finds the line ends, ``str.partition`` the colon, and
the only Python loop runs once per line.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

BOM = "\ufeff"


@dataclass(frozen=True, slots=True)
class Event:
    """One dispatched event: what EventSource hands to ``onmessage`` (§9.2.6, "dispatch the event").

    ``last_event_id`` is the stream's last event ID at dispatch: it persists
    from one event to the next until an ``id`` field changes it.  ``id`` is
    the value of this event's own ``id`` field, or None if it had none.
    """

    type: str = "message"
    data: str = ""
    last_event_id: str = ""
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Comment:
    """A line starting with a colon (§9.2.6: "Ignore the line"); servers send them as heartbeats.

    ``text`` is everything after the colon, leading space included.
    """

    text: str


@dataclass(frozen=True, slots=True)
class RetryChanged:
    """A valid ``retry`` field: the reconnection time is now ``ms`` milliseconds (§9.2.6)."""

    ms: int


class EventStreamParser:
    """Incremental parser for ``text/event-stream`` (§9.2.5, §9.2.6).

    :meth:`feed` returns the :class:`Event` objects completed by the new data,
    in order.  With ``extras=True`` it also returns a :class:`Comment` for
    each comment line and a :class:`RetryChanged` for each valid ``retry``
    field, in stream order, so that a client can trace heartbeats and
    reconnection hints exactly where they arrived.

    One parser can read several responses in turn, as one EventSource does
    across reconnections: call :meth:`end` when a response ends, then feed the
    next response.  ``last_event_id`` and ``retry`` carry over; everything
    else starts afresh.

    ``last_event_id`` is what the spec calls the event source's "last event ID
    string": it changes when a blank line ends a block (even a block without
    data), never in the middle of one.  It is what a reconnecting client sends
    as ``Last-Event-ID``.  ``retry`` is the last valid ``retry`` value, or None.
    """

    def __init__(self, last_event_id: str = "", *, extras: bool = False) -> None:
        self.last_event_id = last_event_id
        self.retry: int | None = None
        self.comments = 0  # comment lines seen: the client's heartbeat counter
        self.discarded_at_end = False  # did end() drop an incomplete event?
        self.extras = extras
        # §9.2.6: "a data buffer, an event type buffer, and a last event ID buffer".
        # The data buffer is kept as a list of lines: "append the value, then a LF"
        # for each data field, then "remove the final LF", is "\n".join(lines).
        self._data: list[str] = []
        self._type = ""
        self._id_buffer = last_event_id  # continues the previous response, as browsers do
        self._block_id: str | None = None  # the id field of the current block, for Event.id
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._pending: list[str] = []  # the start of a line whose end has not arrived yet
        self._at_start = True  # no text yet: a BOM here is ignored (§9.2.5)
        self._skip_lf = False  # the last chunk ended in CR: a LF now is the rest of a CRLF

    def feed(self, chunk: str | bytes) -> list[Event | Comment | RetryChanged]:
        """Parse ``chunk`` (bytes are decoded as UTF-8, bad bytes become U+FFFD) and return the events.

        §9.2.5: "Streams must be decoded using the UTF-8 decode algorithm" --
        whatever charset the Content-Type claims; invalid sequences are
        replaced, never an error.  An incremental decoder keeps the bytes of a
        character cut in two until its end arrives.
        """
        text = self._decoder.decode(chunk) if isinstance(chunk, (bytes, bytearray, memoryview)) else chunk
        if not text:
            return []
        if self._at_start:
            self._at_start = False
            if text[0] == BOM:  # "One leading U+FEFF BYTE ORDER MARK character must be ignored"
                text = text[1:]
        if self._skip_lf:
            self._skip_lf = False
            if text[0] == "\n":  # the LF of a CRLF whose CR ended the previous chunk
                text = text[1:]
        if not text:
            return []
        if "\r" in text:
            # §9.2.5: a line ends with CRLF, a lone LF, or a lone CR.  Make them all
            # LF, then split once.  A CR as the chunk's last character already ends
            # its line; remember it, in case the next chunk starts with its LF.
            self._skip_lf = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        elif "\n" not in text:
            self._pending.append(text)  # no line end yet: nothing to interpret
            return []
        lines = text.split("\n")
        if self._pending:
            lines[0] = "".join(self._pending) + lines[0]
            self._pending.clear()
        last = lines.pop()  # after the last line end: the start of an unfinished line
        if last:
            self._pending.append(last)
        return self._interpret(lines)

    def _interpret(self, lines: list[str]) -> list[Event | Comment | RetryChanged]:
        """§9.2.6 "Interpreting an event stream", one complete line at a time."""
        out: list[Event | Comment | RetryChanged] = []
        data = self._data
        for line in lines:
            if not line:  # "If the line is empty (a blank line): Dispatch the event"
                self.last_event_id = self._id_buffer  # dispatch step 1, done even without data
                if data:
                    out.append(Event(self._type or "message", "\n".join(data), self._id_buffer,
                                     self._block_id))
                    data.clear()
                self._type = ""  # the event type buffer is reset with the data buffer...
                self._block_id = None  # ...but the last event ID buffer is not
                continue
            # "If the line contains a U+003A COLON character": the field name is what is
            # before the first colon, the value what is after it, minus one leading space.
            # "Otherwise": the whole line is the name and the value is empty -- which is
            # also what partition() returns for a line without a colon.
            name, _, value = line.partition(":")
            if value[:1] == " ":
                value = value[1:]
            if name == "data":
                data.append(value)
            elif name == "event":
                self._type = value
            elif name == "id":
                if "\0" not in value:  # "If the field value does not contain U+0000 NULL"
                    self._id_buffer = self._block_id = value  # an empty value resets the ID
            elif name == "retry":
                # "If the field value consists of only ASCII digits": str.isdigit() would
                # also take "²" or "٣", so check ASCII first.  An empty value is ignored.
                if value.isascii() and value.isdigit():
                    self.retry = int(value)
                    if self.extras:
                        out.append(RetryChanged(self.retry))
            elif not name:  # "If the line starts with a U+003A COLON character": a comment
                self.comments += 1
                if self.extras:
                    out.append(Comment(line[1:]))
            # "Otherwise: The field is ignored."
        return out

    def end(self) -> list[Event | Comment | RetryChanged]:
        """The response ended: discard the incomplete event, and get ready for the next response.

        §9.2.5: "Once the end of the file is reached, any pending data must be
        discarded.  (If the file ends in the middle of an event, before the
        final empty line, the incomplete event is not dispatched.)"  So this
        always returns an empty list -- it exists so that no caller forgets
        the rule.  ``discarded_at_end`` says whether anything was dropped.
        """
        self._decoder.decode(b"", final=True)  # a truncated character is dropped with the rest
        self.discarded_at_end = bool(self._pending or self._data or self._type or self._block_id is not None)
        self._pending.clear()
        self._data.clear()
        self._type = ""
        self._block_id = None
        self._id_buffer = self.last_event_id  # an id line of the dropped event does not count
        self._decoder.reset()
        self._at_start = True  # the next response may start with its own BOM
        self._skip_lf = False
        return []


# §9.2.7 "Authoring notes" and the grammar of §9.2.5 decide what a server may write.
# A value can hold any character but CR and LF (they would end the line), so data
# with line breaks becomes several data lines, which the parser joins back with LF.


def _lines(text: str) -> list[str]:
    """``text`` split at CRLF, CR and LF -- never ``str.splitlines()``, which also splits at U+2028 etc."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


def format_event(data: str | None, *, event: str | None = None, id: str | None = None,
                 retry: int | None = None) -> str:
    """One event as text, ready to send; it parses back to exactly these fields.

    ``data`` may contain line breaks (CR, LF or CRLF): each line becomes its own
    ``data:`` line, and the client gets them back joined with LF (so a CRLF in
    the data arrives as LF: the format cannot carry a CR).  ``data=None`` writes a
    block without data, which updates ``id``/``retry`` but dispatches no event.

    Refuses (ValueError) what would break the stream: an event name or id with a
    line break in it, an id containing NULL (a client would ignore it), a retry
    that is not a non-negative integer.  Every value is written after ": ", so
    a value that starts with a space keeps it (the parser removes only one).
    """
    lines = []
    if id is not None:
        if "\r" in id or "\n" in id or "\0" in id:
            raise ValueError(f"an event id cannot contain CR, LF or NULL: {id!r}")
        lines.append(f"id: {id}\n")
    if event is not None:
        if "\r" in event or "\n" in event:
            raise ValueError(f"an event name cannot contain CR or LF: {event!r}")
        lines.append(f"event: {event}\n")
    if retry is not None:
        if type(retry) is not int or retry < 0:  # bool is an int, but True is no delay
            raise ValueError(f"retry must be a non-negative integer of milliseconds: {retry!r}")
        lines.append(f"retry: {retry}\n")
    if data is not None:
        lines.append("data: " + "\ndata: ".join(_lines(data)) + "\n")
    lines.append("\n")  # the blank line that dispatches the event
    return "".join(lines)


def format_comment(text: str = "") -> str:
    """A comment (one line per line of ``text``), e.g. a heartbeat that keeps proxies from timing out.

    §9.2.7: "the server can send a comment line (one starting with a ':'
    character) every 15 seconds or so".  No blank line follows: a comment
    belongs to no event, and a lone blank line is a block without data, which
    some clients (httpx-sse 0.4) wrongly hand out as an empty event.
    """
    return "".join(f": {line}\n" if line else ":\n" for line in _lines(text))
