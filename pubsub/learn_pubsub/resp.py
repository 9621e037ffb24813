r"""RESP, the Redis serialization protocol: commands into bytes, and bytes back into values.

Reading order: **resp** -> (resp_fast) -> resp_client -> envelope -> publisher -> subscriber ->
slow_subscriber -> streams.

This module does no I/O.  :func:`encode_command` turns a command into the
bytes a client writes; :class:`RespParser` turns whatever bytes arrived into
complete values.  Section names below are those of the Redis "RESP protocol
spec" (redis.io/docs/latest/develop/reference/protocol-spec/).

What one SUBSCRIBE looks like on the wire.  A command is always an array of
bulk strings ("Sending commands to a Redis server"):

    client -> server  *2\r\n$9\r\nSUBSCRIBE\r\n$14\r\norders.created\r\n

On a RESP2 connection (the default) the confirmation, and later each message,
is an array of three elements:

    server -> client  *3\r\n$9\r\nsubscribe\r\n$14\r\norders.created\r\n:1\r\n
    server -> client  *3\r\n$7\r\nmessage\r\n$14\r\norders.created\r\n$9\r\n{"id":42}\r\n

After ``HELLO 3`` (RESP3) the same elements come as a *push* (">" instead of
"*"), so a client can tell them apart from the replies to its commands:

    server -> client  >3\r\n$9\r\nsubscribe\r\n$14\r\norders.created\r\n:1\r\n
    server -> client  >3\r\n$7\r\nmessage\r\n$14\r\norders.created\r\n$9\r\n{"id":42}\r\n

Read element by element, the message push says:

    >3\r\n                       a push of 3 elements ("Pushes")
    $7\r\nmessage\r\n            its kind, a bulk string of 7 bytes ("Bulk strings")
    $14\r\norders.created\r\n    the channel
    $9\r\n{"id":42}\r\n          the payload: binary-safe, because its length, not a
                                 delimiter, says where it ends

The first byte names the type; what the parser returns for each:

    +  simple string    str          _  null             None
    -  simple error     RespError    #  boolean          bool
    :  integer          int          ,  double           float
    $  bulk string      bytes        (  big number       int
       $-1 (RESP2 null) None         !  bulk error       RespError
    *  array            list         =  verbatim string  Verbatim
       *-1 (RESP2 null) None         %  map              dict
    ~  set              set          >  push             Push
    |  attribute        dropped, or WithAttributes(value, attributes) on request

Simple strings become ``str`` because the spec keeps them to short text
without CR or LF; bulk strings stay ``bytes`` because they carry any binary
data, such as a message payload.  One parser reads both versions: RESP3 is a
superset of RESP2.

How the parser works: the bytes wait in one ``bytearray``.  Each type has its
reader; an array's reader calls the value reader once per element, which may
be an array again (recursion, as the spec defines the types).  When a value
has not fully arrived, the parser waits for the next :meth:`RespParser.feed`
and then reads that value again from its first byte.  That is simple and
almost always cheap (a reply is usually one read); a reply of 10,000 elements
cut into 100 reads is the exception, and ``resp_fast.py`` shows the faster
way to parse it: an explicit stack that never reads a byte twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# The type bytes ("RESP protocol description", its table), as ints: buffer[i] is an int.
SIMPLE_STRING, SIMPLE_ERROR, INTEGER, BULK_STRING, ARRAY = b"+-:$*"
NULL, BOOLEAN, DOUBLE, BIG_NUMBER, BULK_ERROR, VERBATIM_STRING = b"_#,(!="
MAP, ATTRIBUTE, SET, PUSH = b"%|~>"
CRLF = b"\r\n"

MAX_BULK = 512 * 1024 * 1024  # Redis's own default for proto-max-bulk-len
MAX_LINE = 64 * 1024  # a type line (e.g. a simple error) longer than this is not RESP we accept

# "Doubles": [sign] digits [. digits] [e [sign] digits], or inf / -inf / nan.
_DOUBLE = re.compile(rb"[+-]?(?:\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|inf|nan)")


class ProtocolError(Exception):
    """The bytes are not RESP.  The stream is out of step: close the connection."""


@dataclass(frozen=True, slots=True)
class RespError:
    """A simple error ``-`` or a bulk error ``!`` ("Simple errors", "Bulk errors").

    A value, not an exception: an error can sit inside an array (EXEC returns
    one reply per queued command), so the codec hands it up and the client
    decides what to raise.
    """

    message: str

    @property
    def prefix(self) -> str:
        """The "error prefix", by convention the first word: ERR, WRONGTYPE, NOPROTO..."""
        return self.message.split(" ", 1)[0]


@dataclass(frozen=True, slots=True)
class Verbatim:
    """A verbatim string ``=`` ("Verbatim strings"): text plus a 3-letter format, txt or mkd."""

    format: str
    text: str


@dataclass(frozen=True, slots=True)
class Push:
    """Out-of-band data ``>`` ("Pushes"): ``kind`` is the first element, ``data`` the rest.

    Pub/Sub in RESP3: ``Push('message', (b'orders.created', b'{"id":42}'))``.
    """

    kind: str
    data: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class WithAttributes:
    """A value and the attribute map ``|`` before it ("Attributes"), if ``RespParser(attributes=True)``.

    By default attributes are parsed (a malformed one is still an error) and
    dropped: they are auxiliary data, and in Redis 7 only the test hook
    ``DEBUG PROTOCOL attrib`` sends one.
    """

    value: Any
    attributes: dict[Any, Any]


def encode_command(*args: str | bytes | int | float) -> bytes:
    r"""A command as an array of bulk strings ("Sending commands to a Redis server").

    >>> encode_command("LLEN", "mylist")
    b'*2\r\n$4\r\nLLEN\r\n$6\r\nmylist\r\n'
    """
    if not args:
        raise ValueError("a command needs at least its name")
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = _argument_bytes(arg)
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _argument_bytes(arg: object) -> bytes:
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, str):
        return arg.encode()
    if isinstance(arg, bool):  # a bool is an int in Python; would True be "1" or "True"? Refuse.
        raise TypeError("a bool is not a Redis argument: send 1/0 or a string")
    if isinstance(arg, (int, float)):
        return repr(arg).encode()  # what Redis parses back: 3, -7, 0.5, 1e+100
    if isinstance(arg, (bytearray, memoryview)):
        return bytes(arg)
    raise TypeError(f"a Redis argument is str, bytes, int or float, not {type(arg).__name__}")


class _Incomplete(Exception):
    """The value goes on past the bytes that have arrived: wait for the next read."""


class RespParser:
    r"""Incremental RESP2/RESP3 parser: :meth:`feed` bytes, then iterate the parser for values.

    >>> parser = RespParser()
    >>> list(parser.feed(b"+OK\r\n:10"))  # the integer is not complete yet
    ['OK']
    >>> list(parser.feed(b"00\r\n"))
    [1000]

    A :class:`ProtocolError` is final: the parser raises it again on every
    call, because nothing after a malformed byte can be trusted.

    ``max_bulk`` bounds one bulk string, checked on its length line, so a peer
    cannot make us buffer a huge value first; ``max_line`` bounds a type line.
    Counts of aggregates need no bound: nothing is allocated for an aggregate
    until its elements arrive.  With ``record_raw``, :attr:`last_raw` holds
    the exact bytes of the value last returned (for a byte-level trace).
    """

    def __init__(self, *, max_bulk: int = MAX_BULK, max_line: int = MAX_LINE,
                 attributes: bool = False, record_raw: bool = False) -> None:
        self.max_bulk = max_bulk
        self.max_line = max_line
        self.keep_attributes = attributes
        self.record_raw = record_raw
        self.last_raw = b""
        self._buffer = bytearray()
        self._pos = 0  # where the next top-level value begins
        self._error: ProtocolError | None = None

    def feed(self, data: bytes) -> RespParser:
        """Add ``data``; return the parser itself, to iterate for the values now complete."""
        if self._pos:  # drop the values already returned, once per feed
            del self._buffer[:self._pos]
            self._pos = 0
        self._buffer += data
        return self

    def __iter__(self) -> RespParser:
        return self

    def __next__(self) -> Any:
        """The next complete top-level value; StopIteration when the rest has not arrived."""
        if self._error is not None:
            raise self._error
        try:
            value, end = self._value(self._pos, depth=0)
        except _Incomplete:
            raise StopIteration from None  # next time, start again from the value's first byte
        except ProtocolError as exc:
            self._error = exc
            raise
        if self.record_raw:
            self.last_raw = bytes(self._buffer[self._pos:end])
        self._pos = end
        return value

    # Each reader takes the position where its value starts and returns (value,
    # position after it), or raises _Incomplete.  ``depth`` is 0 for a top-level value.

    def _value(self, at: int, depth: int) -> tuple[Any, int]:
        marker, line, at = self._line(at)
        if marker in BULK_TYPES:
            return self._bulk(marker, line, at)
        if marker == ATTRIBUTE:
            return self._attributed(line, at, depth)
        if marker in AGGREGATE_TYPES:
            return self._aggregate(marker, line, at, depth)
        return simple(marker, line), at

    def _line(self, at: int) -> tuple[int, bytearray, int]:
        """The type byte at ``at``, the rest of its line, and where the next line starts."""
        eol = self._buffer.find(CRLF, at)
        if eol < 0:
            if len(self._buffer) - at > self.max_line:
                raise ProtocolError(f"no CRLF in {len(self._buffer) - at} bytes")
            raise _Incomplete
        return self._buffer[at], self._buffer[at + 1:eol], eol + 2

    def _bulk(self, marker: int, line: bytearray, at: int) -> tuple[Any, int]:
        """``$`` ``!`` ``=``: a length line, then that many bytes, then CRLF."""
        length = length_of(marker, line, self.max_bulk)
        if length < 0:  # $-1, the RESP2 null bulk string
            return None, at
        end = at + length
        if len(self._buffer) < end + 2:
            raise _Incomplete
        if self._buffer[end:end + 2] != CRLF:
            raise ProtocolError(f"bulk of {length} bytes not followed by CRLF")
        data = bytes(self._buffer[at:end])
        return (data if marker == BULK_STRING else bulk_error_or_verbatim(marker, data)), end + 2

    def _aggregate(self, marker: int, line: bytearray, at: int, depth: int) -> tuple[Any, int]:
        """``*`` ``%`` ``~`` ``>``: a count line, then the elements, each a value of its own."""
        count = length_of(marker, line, self.max_bulk)
        if marker == PUSH and depth > 0:  # "Pushes": "never inside" other types
            raise ProtocolError("a push inside an aggregate")
        if count < 0:  # *-1, the RESP2 null array
            return None, at
        items = []
        for _ in range(count * 2 if marker == MAP else count):  # a map: key, value, key, value...
            item, at = self._value(at, depth + 1)
            items.append(item)
        return build(marker, items), at

    def _attributed(self, line: bytearray, at: int, depth: int) -> tuple[Any, int]:
        """``|``: a map that describes the value after it, at the same depth ("Attributes")."""
        count = length_of(ATTRIBUTE, line, self.max_bulk)
        items = []
        for _ in range(count * 2):
            item, at = self._value(at, depth + 1)
            items.append(item)
        attributes = build(ATTRIBUTE, items)
        value, at = self._value(at, depth)
        if not self.keep_attributes or not count:  # |0 describes nothing
            return value, at
        if isinstance(value, WithAttributes):  # attributes of an attribute: merged
            return WithAttributes(value.value, {**attributes, **value.attributes}), at
        return WithAttributes(value, attributes), at


def length_of(marker: int, line: bytearray, max_bulk: int) -> int:
    """A length or count line: digits, or -1 for the two RESP2 nulls ``$-1`` and ``*-1``."""
    if line.isdigit() and len(line) < 19:  # 19 digits could pass 2**63: no such length
        length = int(line)
        if marker in BULK_TYPES and length > max_bulk:
            raise ProtocolError(f"bulk of {length} bytes is over the limit of {max_bulk}")
        return length
    if line == b"-1" and marker in (BULK_STRING, ARRAY):
        return -1
    raise ProtocolError(f"bad length {bytes(line)!r} for type {chr(marker)!r}")


def simple(marker: int, line: bytearray) -> Any:
    """The types that fit on their one line: + - : _ # , ("Simple strings" ... "Big numbers")."""
    if marker == SIMPLE_STRING or marker == SIMPLE_ERROR:
        if b"\r" in line or b"\n" in line:  # "mustn't contain a CR or LF": we lost the framing
            raise ProtocolError(f"CR or LF inside a simple string: {bytes(line)!r}")
        text = line.decode("utf-8", "replace")
        return text if marker == SIMPLE_STRING else RespError(text)
    if marker == INTEGER or marker == BIG_NUMBER:
        return _integer(line)
    if marker == NULL and not line:
        return None
    if marker == BOOLEAN and (line == b"t" or line == b"f"):
        return line == b"t"
    if marker == DOUBLE and _DOUBLE.fullmatch(line):
        return float(line)
    if marker in _KNOWN_TYPES:
        raise ProtocolError(f"bad {chr(marker)!r} value: {bytes(line)!r}")
    raise ProtocolError(f"unknown type byte {chr(marker)!r} in {bytes(line[:40])!r}")


def _integer(line: bytearray) -> int:
    """"Integers", "Big numbers": a sign, then digits only (``int()`` would allow ' 1_0 ')."""
    digits = line[1:] if line[:1] in (b"+", b"-") else line
    if not digits.isdigit():
        raise ProtocolError(f"not an integer: {bytes(line)!r}")
    try:
        return int(line)
    except ValueError:  # more digits than Python converts (sys.set_int_max_str_digits)
        raise ProtocolError(f"integer of {len(line)} digits") from None


def bulk_error_or_verbatim(marker: int, data: bytes) -> RespError | Verbatim:
    if marker == BULK_ERROR:
        return RespError(data.decode("utf-8", "replace"))
    if data[3:4] != b":":  # "Verbatim strings": exactly three bytes of format, then a colon
        raise ProtocolError(f"verbatim string without its 3-byte format: {data[:10]!r}")
    return Verbatim(data[:3].decode("ascii", "replace"), data[4:].decode("utf-8", "replace"))


def build(marker: int, items: list[Any]) -> Any:
    """An aggregate from its elements, once all of them have arrived."""
    if marker == ARRAY:
        return items
    # "Both map keys and values can be any of RESP's types", even a list: _hashable.
    if marker == MAP or marker == ATTRIBUTE:
        return dict(zip(map(_hashable, items[0::2]), items[1::2], strict=True))
    if marker == SET:
        return set(map(_hashable, items))
    # PUSH: its first element says what kind of push this is ("message", "invalidate", ...)
    kind = items[0] if items else None
    if not isinstance(kind, (bytes, str)):
        raise ProtocolError(f"a push must start with its kind, a string, not {kind!r}")
    return Push(kind.decode("utf-8", "replace") if isinstance(kind, bytes) else kind, tuple(items[1:]))


def _hashable(value: Any) -> Any:
    """A dict key or set member: an array becomes a tuple, a set a frozenset, a map a tuple of pairs."""
    if isinstance(value, list):
        return tuple(map(_hashable, value))
    if isinstance(value, (set, dict)):
        return frozenset(value) if isinstance(value, set) else tuple(map(_hashable, value.items()))
    return value


BULK_TYPES = frozenset((BULK_STRING, BULK_ERROR, VERBATIM_STRING))
AGGREGATE_TYPES = frozenset((ARRAY, MAP, SET, PUSH, ATTRIBUTE))
_KNOWN_TYPES = frozenset(b"+-:_#,(") | BULK_TYPES | AGGREGATE_TYPES
