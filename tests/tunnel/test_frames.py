"""The tunnel's frame codec: the 9-byte header, any split of the input, and the size limit."""

from __future__ import annotations

import pytest

from learn_tunnel.frames import ErrorCode, Flags, Frame, FrameError, FrameParser, FrameType, serialize

pytestmark = pytest.mark.pure


def test_a_data_frame_is_length_type_flags_stream_then_payload():
    wire = serialize(Frame(FrameType.DATA, Flags.END_STREAM, 3, b"hi"))
    assert wire == b"\x00\x00\x02" + b"\x00" + b"\x01" + b"\x00\x00\x00\x03" + b"hi"


def test_frames_split_anywhere_come_out_whole_and_in_order():
    frames = [Frame(FrameType.HEADERS, Flags.NONE, 1, b'{"a":1}'),
              Frame(FrameType.DATA, Flags.END_STREAM, 1, b"x" * 300)]
    wire = b"".join(serialize(f) for f in frames)
    parser, out = FrameParser(), []
    for i in range(0, len(wire), 7):
        out += parser.feed(wire[i:i + 7])
    assert out == frames


def test_an_oversized_frame_is_refused_from_its_header_alone():
    parser = FrameParser(max_frame_size=1000)
    header = serialize(Frame(FrameType.DATA, Flags.NONE, 1, b"y" * 1001))[:9]
    with pytest.raises(FrameError) as caught:
        parser.feed(header)
    assert caught.value.code is ErrorCode.FRAME_SIZE_ERROR
    assert "1001 B exceeds the maximum of 1000 B" in caught.value.reason


def test_an_unknown_frame_type_is_a_protocol_error():
    with pytest.raises(FrameError) as caught:
        FrameParser().feed(b"\x00\x00\x00\x09\x00\x00\x00\x00\x01")
    assert caught.value.code is ErrorCode.PROTOCOL_ERROR
