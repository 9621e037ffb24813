"""Our codec beside wsproto, a sans-I/O WebSocket library nobody here wrote: same bytes, same meaning."""

from __future__ import annotations

import os

import pytest
import wsproto.utilities
from wsproto.frame_protocol import FrameProtocol, XorMaskerSimple
from wsproto.frame_protocol import Opcode as WsprotoOpcode

from learn_websocket.frames import Frame, FrameParser, Opcode, apply_mask, encode
from learn_websocket.handshake import accept_key
from learn_websocket.protocol import Connection, Role, TextMessage

pytestmark = pytest.mark.differential

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3


def test_accept_key_agrees_with_wsproto() -> None:
    for key in (RFC_KEY, "x3JJHMbDL1EzLkh9GBhXDw==", "AQIDBAUGBwgJCgsMDQ4PEC=="):
        assert accept_key(key) == wsproto.utilities.generate_accept_token(key.encode()).decode()


def test_masking_agrees_with_wsproto() -> None:
    for length in (0, 1, 3, 4, 5, 125, 1000):
        data = os.urandom(length)
        mask = os.urandom(4)
        assert apply_mask(data, mask) == bytes(XorMaskerSimple(mask).process(bytearray(data)))


@pytest.mark.parametrize(("opcode", "length"), [
    (opcode, length) for opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.PING, Opcode.CLOSE)
    for length in (0, 5, 125, 126, 70_000) if opcode < Opcode.CLOSE or length <= 125])
def test_unmasked_frames_are_byte_identical_to_wsprotos(opcode: Opcode, length: int) -> None:
    payload = b"a" * length
    wsproto_server = FrameProtocol(client=False, extensions=[])
    theirs = wsproto_server._serialize_frame(WsprotoOpcode(opcode.value), payload, fin=True)
    assert encode(opcode, payload) == bytes(theirs)


def test_wsproto_reads_our_masked_frames_and_we_read_its() -> None:
    payload = os.urandom(300)
    wsproto_server = FrameProtocol(client=False, extensions=[])
    wsproto_server.receive_bytes(encode(Opcode.BINARY, payload, mask=os.urandom(4)))
    [their_frame] = list(wsproto_server.received_frames())
    assert bytes(their_frame.payload) == payload
    wsproto_client = FrameProtocol(client=True, extensions=[])
    wire = bytes(wsproto_client.send_data(payload, fin=True))
    assert list(FrameParser(expect_masked=True).feed(wire)) == [Frame(True, Opcode.BINARY, payload)]


def test_wsproto_fragments_are_reassembled() -> None:
    wsproto_client = FrameProtocol(client=True, extensions=[])
    data = bytes(wsproto_client.send_data("Hel", fin=False))
    data += bytes(wsproto_client.send_data("lo€", fin=True))
    server = Connection(Role.SERVER)
    server.receive_data(data)
    assert server.events_received() == [TextMessage("Hello€")]
