"""How a frame reads in the wire trace: one line per frame, and its fields under ``-v``.

Reading order: frames -> protocol -> **frame_trace** -> aio (which prints these lines).
"""

from __future__ import annotations

from wirelab_common.wiretrace import hexdump, shorten

from .frames import Frame, Opcode


def _show_bytes(data: bytes, limit: int = 40) -> str:
    shown = repr(bytes(data[:limit]))
    return shown + (f"...(+{len(data) - limit} bytes)" if len(data) > limit else "")


def describe_frame(frame: Frame) -> str:
    """A frame on one line: ``TEXT 'hello'``, ``PING b''``, ``CLOSE 1000 'bye'``."""
    opcode, payload = frame.opcode, frame.payload
    if opcode is Opcode.TEXT:
        text = f"TEXT {shorten(payload)!r}"
    elif opcode is Opcode.CLOSE:
        code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else "(no code)"
        text = f"CLOSE {code} {shorten(payload[2:])!r}"
    else:  # BINARY, CONT, PING, PONG: bytes (a CONT frame may be text cut mid-character)
        text = f"{opcode.name} {_show_bytes(payload)}"
    if not frame.fin:
        return text + "  (fin=0: more fragments follow)"
    return text + "  (fin=1: last fragment)" if opcode is Opcode.CONT else text


def frame_detail(frame: Frame, masked: bool) -> list[str]:
    """Verbose detail: the §5.2 header fields, then the (unmasked) payload bytes."""
    return [
        f"fin={int(frame.fin)} rsv=000 opcode={frame.opcode.value:#x} ({frame.opcode.name}) "
        f"mask={int(masked)} payload_length={len(frame.payload)}",
        f"payload: {hexdump(frame.payload) or '(empty)'}",
    ]
