"""The one error of the codec, and the fixed-size fields it reads (RFC 1035 §4.1).

Reading order: **wire** -> names -> rdata -> edns -> message -> zone_data ->
answers -> notify -> nameserver -> authoritative -> secondary -> wire_cache

Everything a DNS message holds is either a domain name (``names.py``) or a
fixed-size big-endian integer: 8, 16 or 32 bits ("network order", RFC 1035
§2.3.2), read and written with ``struct`` formats such as ``U16`` below and
``message.RR_FIXED`` (each next to the RFC diagram of what it reads).

Reading past the end of the bytes, an impossible count, a pointer loop:
every way a packet can be malformed ends in one :class:`FormatError` with a
message that says where and why.  A server answers it with rcode FORMERR
(RFC 1035 §4.1.1) when it could at least read the 12-byte header.
"""

from __future__ import annotations

import struct

U16 = struct.Struct("!H")
U32 = struct.Struct("!I")


class FormatError(ValueError):
    """The bytes are not a well-formed DNS message; the text says where and why."""

