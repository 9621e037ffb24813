"""The same RESP parser, rewritten for speed: an explicit stack instead of recursion.

Reading order: resp -> **resp_fast** (optional: the speed beside the lesson) -> resp_client.

:class:`~learn_pubsub.resp.RespParser` is the lesson: one function per type,
calling itself for the elements of an array, and starting again from a
value's first byte when the value has not fully arrived.  That restart is the
one thing that costs: an array of 10,000 elements that arrives in 100 reads is
parsed up to 100 times.  :class:`FastRespParser` never restarts.  Aggregates are
kept on an explicit stack (as hiredis does): an array whose elements are still
arriving is a stack entry holding the elements seen so far, so each byte is
parsed once, however the reply is cut.  It also inlines the per-value work into
one loop, without a call per element.

Both give the same values and the same errors for the same bytes, however they
are cut (``tests/pubsub/test_resp_fast.py`` checks that on thousands of random
and malformed replies); types, helpers and limits are those of ``resp.py``.
Which one a client uses is chosen when it is made: ``RespClient(parser="fast")``,
``python -m learn_pubsub.resp_cli --parser fast``.
"""

from __future__ import annotations

from typing import Any

from .resp import (
    AGGREGATE_TYPES,
    ATTRIBUTE,
    BULK_STRING,
    BULK_TYPES,
    CRLF,
    MAP,
    MAX_BULK,
    MAX_LINE,
    PUSH,
    ProtocolError,
    WithAttributes,
    build,
    bulk_error_or_verbatim,
    length_of,
    simple,
)


class _Aggregate:
    """An array, map, set, push or attribute whose elements are still arriving."""

    __slots__ = ("marker", "size", "items", "attributes")

    def __init__(self, marker: int, size: int, attributes: dict[Any, Any] | None) -> None:
        self.marker = marker
        self.size = size  # elements to read: twice the count for a map or an attribute
        self.items: list[Any] = []
        self.attributes = attributes


class FastRespParser:
    """Incremental RESP2/RESP3 parser with the interface of :class:`~learn_pubsub.resp.RespParser`."""

    def __init__(self, *, max_bulk: int = MAX_BULK, max_line: int = MAX_LINE,
                 attributes: bool = False, record_raw: bool = False) -> None:
        self.max_bulk = max_bulk
        self.max_line = max_line
        self.keep_attributes = attributes
        self.record_raw = record_raw
        self.last_raw = b""
        self._buffer = bytearray()
        self._pos = 0  # the next unread byte
        self._value_start = 0  # where the value being parsed began (for last_raw)
        self._stack: list[_Aggregate] = []
        self._attributes: dict[Any, Any] | None = None  # read, waiting for the value they describe
        self._error: ProtocolError | None = None

    def feed(self, data: bytes) -> FastRespParser:
        """Add ``data``; return the parser itself, to iterate for the values now complete."""
        buffer = self._buffer
        keep_from = self._value_start if self.record_raw else self._pos
        if keep_from:  # drop what is parsed, once per feed: front deletion is cheap for bytearray
            del buffer[:keep_from]
            self._pos -= keep_from
            self._value_start -= keep_from
        buffer += data
        return self

    def __iter__(self) -> FastRespParser:
        return self

    def __next__(self) -> Any:
        """The next complete top-level value; StopIteration when the rest has not arrived."""
        if self._error is not None:
            raise self._error
        buffer, stack, pos = self._buffer, self._stack, self._pos
        try:
            while True:
                eol = buffer.find(CRLF, pos)
                if eol < 0:
                    if len(buffer) - pos > self.max_line:
                        raise ProtocolError(f"no CRLF in {len(buffer) - pos} bytes")
                    raise StopIteration
                marker, line = buffer[pos], buffer[pos + 1:eol]
                if marker in BULK_TYPES:  # $ ! =: a length line, then that many bytes, then CRLF
                    length = length_of(marker, line, self.max_bulk)
                    if length < 0:  # $-1, the RESP2 null bulk string
                        value, pos = None, eol + 2
                    else:
                        end = eol + 2 + length
                        if len(buffer) < end + 2:
                            raise StopIteration  # pos stays on the length line: re-read it next time
                        if buffer[end:end + 2] != CRLF:
                            raise ProtocolError(f"bulk of {length} bytes not followed by CRLF")
                        value = bytes(buffer[eol + 2:end])
                        if marker != BULK_STRING:
                            value = bulk_error_or_verbatim(marker, value)
                        pos = end + 2
                elif marker in AGGREGATE_TYPES:  # * % ~ > |: a count line, then the elements
                    count = length_of(marker, line, self.max_bulk)
                    pos = eol + 2
                    if marker == PUSH and stack:  # "Pushes": "never inside" other types
                        raise ProtocolError("a push inside an aggregate")
                    if count > 0:
                        size = count * 2 if marker in (MAP, ATTRIBUTE) else count
                        stack.append(_Aggregate(marker, size, self._attributes))
                        self._attributes = None
                        continue
                    if marker == ATTRIBUTE:
                        continue  # |0: an empty attribute map describes nothing
                    value = None if count < 0 else build(marker, [])  # *-1 is the RESP2 null array
                else:
                    value, pos = simple(marker, line), eol + 2
                if self._attributes is not None:
                    value, self._attributes = WithAttributes(value, self._attributes), None
                # The value is complete: add it to the innermost open aggregate, and
                # close every aggregate that it completes, innermost first.
                while stack:
                    aggregate = stack[-1]
                    aggregate.items.append(value)
                    if len(aggregate.items) < aggregate.size:
                        break
                    stack.pop()
                    value = build(aggregate.marker, aggregate.items)
                    if aggregate.marker == ATTRIBUTE:  # not a value: it describes the next one
                        if self.keep_attributes:  # (attributes of an attribute: merged)
                            self._attributes = {**(aggregate.attributes or {}), **value}
                        break
                    if aggregate.attributes is not None:
                        value = WithAttributes(value, aggregate.attributes)
                else:
                    if self.record_raw:
                        self.last_raw = bytes(buffer[self._value_start:pos])
                        self._value_start = pos
                    return value
        except ProtocolError as exc:
            self._error = exc
            raise
        finally:
            self._pos = pos

