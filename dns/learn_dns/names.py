"""Domain names: labels, text form, and message compression (RFC 1035 §3.1, §4.1.4).

Reading order: wire -> **names** -> rdata -> edns -> message -> zone_data ->
answers -> notify -> nameserver -> authoritative -> secondary -> wire_cache

On the wire a name is a sequence of labels, each a length byte (1-63) and
that many bytes, ended by the zero-length root label::

    www.example.com.  ->  03 77 77 77  07 65 78 61 6d 70 6c 65  03 63 6f 6d  00
                          3  w  w  w   7  e  x  a  m  p  l  e   3  c  o  m   root

Compression (§4.1.4): any suffix of a name may be replaced by a two-byte
pointer, the top two bits set and 14 bits of offset from the start of the
message, to an earlier place where the same labels were written::

    +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
    | 1  1|                OFFSET                   |
    +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+

Decoding is where a hostile packet strikes: a pointer to itself or to a
later pointer loops forever, a pointer past the end reads garbage, labels
can claim more bytes than are left.  The rules below make decoding always
terminate: every pointer must point strictly before the previous jump target
(so offsets only decrease), labels are at most 63 bytes, and a whole name
at most 255 bytes (§2.3.4).  The same rule as dnspython's, so both accept
and reject the same packets.

Names compare without regard to ASCII case (§2.3.3): ``WWW.Example.COM.``
equals ``www.example.com.``, but keeps the case it was written in.
"""

from __future__ import annotations

from collections.abc import Iterable

from .wire import FormatError

MAX_LABEL = 63     # the two top bits of a length byte are reserved (0b11 = pointer)
MAX_NAME = 255     # octets on the wire, length bytes and the final root byte included
POINTER = 0xC0
MAX_POINTER = 0x3FFF

# Characters that need a backslash in text form (§5.1), and what is printable as is.
_SPECIAL = frozenset(b'."();\\@$ ')
_PRINTABLE = frozenset(range(0x21, 0x7F))


class Name:
    """An absolute domain name: a tuple of labels (bytes), the root being ``()``."""

    __slots__ = ("labels", "key")

    def __init__(self, labels: Iterable[bytes]) -> None:
        labels = tuple(labels)
        size = 1
        for label in labels:
            if not 0 < len(label) <= MAX_LABEL:
                raise FormatError(f"label {label[:20]!r}... has {len(label)} bytes (1-{MAX_LABEL} allowed)")
            size += len(label) + 1
        if size > MAX_NAME:
            raise FormatError(f"name is {size} bytes on the wire (at most {MAX_NAME})")
        self.labels = labels
        self.key = tuple(label.lower() for label in labels)  # what comparisons use

    @classmethod
    def from_text(cls, text: str) -> Name:
        """Parse ``www.example.com.`` (a missing final dot is allowed; ``\\.`` and ``\\DDD`` escapes)."""
        if text in (".", ""):
            return ROOT
        labels: list[bytes] = []
        current = bytearray()
        raw = text.encode("utf-8")
        i = 0
        while i < len(raw):
            c = raw[i]
            if c == 0x5C:  # backslash: \DDD decimal or the next character literally
                digits = raw[i + 1:i + 4]
                if len(digits) == 3 and digits.isdigit():
                    if int(digits) > 255:
                        raise FormatError(f"name {text!r} has an escape \\{digits.decode()} above 255")
                    current.append(int(digits))
                    i += 4
                    continue
                if i + 1 >= len(raw):
                    raise FormatError(f"name {text!r} ends with a lone backslash")
                current.append(raw[i + 1])
                i += 2
                continue
            if c == 0x2E:  # "." ends a label
                if not current:
                    raise FormatError(f"name {text!r} has an empty label")
                labels.append(bytes(current))
                current = bytearray()
            else:
                current.append(c)
            i += 1
        if current:
            labels.append(bytes(current))
        return cls(labels)

    def to_text(self) -> str:
        """The master-file form, with a final dot; odd bytes escaped as ``\\DDD``."""
        if not self.labels:
            return "."
        return "".join(_label_text(label) + "." for label in self.labels)

    __str__ = to_text

    def __repr__(self) -> str:
        return f"Name({self.to_text()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Name) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __len__(self) -> int:
        return len(self.labels)

    def is_subdomain_of(self, other: Name) -> bool:
        """True if ``other`` is this name or one of its ancestors."""
        n = len(other.key)
        return n <= len(self.key) and (n == 0 or self.key[-n:] == other.key)

    def parent(self) -> Name:
        if not self.labels:
            raise ValueError("the root has no parent")
        return Name(self.labels[1:])

    def to_wire(self) -> bytes:
        """Uncompressed wire form."""
        return b"".join(bytes((len(label),)) + label for label in self.labels) + b"\0"


def _label_text(label: bytes) -> str:
    out = []
    for b in label:
        if b in _SPECIAL:
            out.append("\\" + chr(b))
        elif b in _PRINTABLE:
            out.append(chr(b))
        else:
            out.append(f"\\{b:03d}")
    return "".join(out)


ROOT = Name(())


def decode_name(data: bytes, offset: int) -> tuple[Name, int]:
    """Read the name at ``offset``; return it and the offset just after it.

    The returned offset is where the name *ends in place*: after its first
    pointer if it has one, not after the labels the pointer led to.
    """
    labels: list[bytes] = []
    size = 1
    end = -1                 # set at the first pointer
    lowest_target = offset   # each pointer must go strictly below the previous one
    pos = offset
    length = len(data)
    while True:
        if pos >= length:
            raise FormatError(f"name starting at offset {offset} runs past the end of the message")
        n = data[pos]
        if n == 0:
            break
        kind = n & POINTER
        if kind == POINTER:
            if pos + 1 >= length:
                raise FormatError(f"compression pointer at offset {pos} is cut off by the end of the message")
            target = ((n & 0x3F) << 8) | data[pos + 1]
            if target >= lowest_target:
                raise FormatError(
                    f"compression pointer at offset {pos} points to {target}, not before {lowest_target}: "
                    "a forward pointer or a loop")
            if end < 0:
                end = pos + 2
            lowest_target = target
            pos = target
            continue
        if kind:
            raise FormatError(f"label type 0x{kind:02x} at offset {pos} is not defined (only 00 and 11 are)")
        if pos + 1 + n > length:
            raise FormatError(f"label at offset {pos} claims {n} bytes but the message ends first")
        size += n + 1
        if size > MAX_NAME:
            raise FormatError(f"name starting at offset {offset} is longer than {MAX_NAME} bytes")
        labels.append(data[pos + 1:pos + 1 + n])
        pos += 1 + n
    if end < 0:
        end = pos + 1
    name = Name.__new__(Name)  # labels are already checked: skip __init__'s checks
    name.labels = tuple(labels)
    name.key = tuple(label.lower() for label in labels)
    return name, end


def encode_name(name: Name, out: bytearray, table: dict[tuple[bytes, ...], int] | None) -> None:
    """Append ``name`` to the message being built in ``out``, compressed if ``table`` is given.

    ``table`` maps each suffix already written (lowercased labels) to its
    offset; a suffix seen before becomes a pointer, a new one is recorded.
    Offsets beyond 14 bits cannot be pointed to, so they are not recorded.
    """
    key = name.key
    for i, label in enumerate(name.labels):
        if table is not None:
            suffix = key[i:]
            where = table.get(suffix)
            if where is not None:
                out += bytes((POINTER | (where >> 8), where & 0xFF))
                return
            if len(out) <= MAX_POINTER:
                table[suffix] = len(out)
        out.append(len(label))
        out += label
    out.append(0)
