"""The fast frame parser against the lesson's, and both against wsproto: same frames, same errors.

``frames_fast.FastFrameParser`` folds the header checks into one lookup; the
lesson's ``frames.FrameParser`` spells them out.  Both get the same bytes, cut
into the same random pieces: valid frames of every opcode and length class,
frames with one header bit flipped, and plain noise.  After every piece both
must have yielded the same frames, and raised the same error (close code and
reason) at the same point.  wsproto, written by others, reads the valid frames too.
"""

from __future__ import annotations

import os
import random

import pytest
from wsproto.frame_protocol import FrameProtocol

from learn_websocket import frames_fast
from learn_websocket.frames import Frame, FrameParser, Opcode, ProtocolError, apply_mask, encode
from learn_websocket.frames_fast import FastFrameParser, apply_mask_fast, encode_fast
from learn_websocket.protocol import Connection, Role, TextMessage

pytestmark = pytest.mark.differential

LENGTHS = [0, 1, 125, 126, 127, 200, 65535, 65536]


def random_frame(rng: random.Random, masked: bool) -> bytes:
    opcode = rng.choice(list(Opcode))
    control = opcode >= Opcode.CLOSE
    length = rng.choice([n for n in LENGTHS if not control or n <= 125])
    payload = rng.randbytes(length)
    if opcode is Opcode.CLOSE and length:  # a close payload of its own shape; the parser does not look
        payload = b"\x03\xe8" + payload[2:]
    fin = True if control else rng.random() < 0.7
    return encode(opcode, payload, fin, rng.randbytes(4) if masked else None)


def malformed(rng: random.Random, wire: bytes) -> bytes:
    """One frame with a bit of its first two bytes, or of its extended length, flipped."""
    data = bytearray(wire)
    index = rng.choice([0, 0, 1, 1, 2, 3] if len(data) > 3 else [0, 1])
    data[index] ^= 1 << rng.randrange(8)
    return bytes(data)


def run(parser_class: type[FrameParser], pieces: list[bytes], masked: bool, max_size: int | None) -> list:
    """What the parser yields after each piece: frames, then at most one error."""
    parser = parser_class(expect_masked=masked, max_size=max_size)
    seen: list = []
    for piece in pieces:
        try:
            for frame in parser.feed(piece):
                seen.append(frame)
        except ProtocolError as error:
            seen.append(("error", error.close_code, error.reason))
            break
        seen.append("|")
    return seen


def cut(rng: random.Random, data: bytes) -> list[bytes]:
    points = sorted(rng.sample(range(len(data) + 1), k=min(len(data) + 1, rng.randint(0, 6))))
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@pytest.mark.parametrize("seed", range(40))
def test_fast_and_plain_parsers_agree_on_random_and_malformed_streams(seed: int) -> None:
    rng = random.Random(seed)
    masked = rng.random() < 0.5
    max_size = rng.choice([None, 125, 1000, 70000])
    for _ in range(25):
        frames = [random_frame(rng, masked) for _ in range(rng.randint(1, 5))]
        kind = rng.random()
        if kind < 0.4:
            frames[rng.randrange(len(frames))] = malformed(rng, frames[rng.randrange(len(frames))])
        elif kind < 0.5:
            frames.append(rng.randbytes(rng.randint(1, 20)))  # noise after good frames
        elif kind < 0.55:
            frames.insert(0, encode(Opcode.TEXT, b"", True, None if masked else b"abcd"))  # wrong role
        pieces = cut(rng, b"".join(frames))
        assert run(FastFrameParser, pieces, masked, max_size) == run(FrameParser, pieces, masked, max_size)


@pytest.mark.parametrize("first", range(256))
def test_every_first_byte_gives_the_same_verdict(first: int) -> None:
    for second, extra in ((0x80 | 5, b"mask" + b"x" * 5), (0x80 | 126, b"\x00\x7e" + b"mask"),
                          (0x80 | 127, (2**63).to_bytes(8, "big") + b"mask"), (5, b"x" * 5)):
        pieces = [bytes([first, second]) + extra]
        assert run(FastFrameParser, pieces, True, 1000) == run(FrameParser, pieces, True, 1000)


@pytest.mark.parametrize("parser", [FrameParser, FastFrameParser], ids=["plain", "fast"])
def test_both_parsers_read_what_wsproto_writes(parser: type[FrameParser]) -> None:
    wsproto_client = FrameProtocol(client=True, extensions=[])
    for length in LENGTHS:
        payload = os.urandom(length)
        wire = bytes(wsproto_client.send_data(payload, fin=True))
        assert list(parser(expect_masked=True).feed(wire)) == [Frame(True, Opcode.BINARY, payload)]


@pytest.mark.parametrize("parser", [FrameParser, FastFrameParser], ids=["plain", "fast"])
def test_a_connection_runs_on_either_parser(parser: type[FrameParser]) -> None:
    client, server = Connection(Role.CLIENT), Connection(Role.SERVER, parser=parser)
    client.send_text("fragmented €", fragment_size=3)
    server.receive_data(client.data_to_send())
    assert server.events_received() == [TextMessage("fragmented €")]


def test_a_feed_whose_frames_are_not_read_keeps_its_bytes() -> None:
    """A parser that reads the caller's bytes in place keeps them for the next feed, as the lesson's does."""
    wire = encode(Opcode.TEXT, b"one", True, b"abcd") + encode(Opcode.TEXT, b"two", True, b"efgh")
    for parser_class in (FrameParser, FastFrameParser):
        parser = parser_class(expect_masked=True)
        parser.feed(wire[:5])  # never iterated
        frames = parser.feed(wire[5:])
        assert [frame.payload for frame in frames] == [b"one", b"two"]
        reader = parser_class(expect_masked=True)
        for frame in reader.feed(wire):
            assert frame.payload == b"one"
            break  # the rest stays for the next feed
        assert [frame.payload for frame in reader.feed(b"")] == [b"two"]


@pytest.mark.parametrize("seed", range(10))
def test_encode_fast_and_apply_mask_fast_give_the_lesson_bytes(seed: int) -> None:
    rng = random.Random(seed)
    for length in [*LENGTHS, *(rng.randint(0, 300) for _ in range(20))]:
        payload, mask = rng.randbytes(length), rng.randbytes(4)
        assert apply_mask_fast(payload, mask) == apply_mask(payload, mask)
        for opcode in Opcode:
            for fin in (True, False):
                for key in (None, mask):
                    assert encode_fast(opcode, payload, fin, key) == encode(opcode, payload, fin, key)


def test_random_pool_hands_out_urandom_bytes_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """Masks and other sizes are consecutive slices of what os.urandom returned, never reused."""
    stream = random.Random(7)
    given: list[bytes] = []

    def urandom(n: int) -> bytes:
        given.append(stream.randbytes(n))
        return given[-1]

    monkeypatch.setattr(frames_fast.os, "urandom", urandom)
    pool = frames_fast.RandomPool(size=64)
    masks = [pool(4) for _ in range(40)]  # 2.5 pools of 16 masks
    assert all(len(mask) == 4 for mask in masks)
    assert b"".join(masks) == b"".join(given)[:160]
    assert len(pool(10)) == 10 and len(pool(100)) == 100
