"""pkt-line codec and side-band-64k, with the examples of gitprotocol-common."""

import pytest

from learn_git.network import pkt_line
from learn_git.network.pkt_line import Data, Delim, Flush, PktLineError, PktReader, ResponseEnd

pytestmark = pytest.mark.pure


def test_encode_matches_the_spec_examples():
    assert pkt_line.encode(b"a\n") == b"0006a\n"
    assert pkt_line.encode(b"a") == b"0005a"
    assert pkt_line.encode(b"foobar\n") == b"000bfoobar\n"
    assert pkt_line.encode("want x") == b"000bwant x\n"   # text lines get their newline


def test_special_packets_decode_to_events():
    assert pkt_line.decode_all(b"000000010002") == [
        Flush(), Delim(), ResponseEnd()]


def test_reader_waits_for_a_whole_line_across_feeds():
    reader = PktReader()
    reader.feed(b"000bfoo")
    assert list(reader.events()) == []
    reader.feed(b"bar\n0000")
    assert list(reader.events()) == [Data(b"foobar\n"), Flush()]
    reader.finish()


@pytest.mark.parametrize("bad", [b"00zz", b"0003", b"fff1" + b"x" * 10, b"-001"])
def test_malformed_length_is_an_error(bad):
    with pytest.raises(PktLineError):
        pkt_line.decode_all(bad)


def test_truncated_line_is_an_error():
    with pytest.raises(PktLineError, match="ends inside"):
        pkt_line.decode_all(b"0010short")


def test_largest_payload_is_accepted_and_one_more_byte_refused():
    line = pkt_line.encode(b"x" * pkt_line.MAX_PAYLOAD)
    assert line[:4] == b"fff0"
    assert pkt_line.decode_all(line) == [Data(b"x" * pkt_line.MAX_PAYLOAD)]
    with pytest.raises(PktLineError):
        pkt_line.encode(b"x" * (pkt_line.MAX_PAYLOAD + 1))


def test_empty_payload_is_never_encoded():
    with pytest.raises(PktLineError):
        pkt_line.encode(b"")


def test_sideband_round_trip_splits_large_data_and_separates_bands():
    data = bytes(range(256)) * 600            # more than one 64k line
    stream = pkt_line.encode_sideband(2, b"Counting objects\r") + pkt_line.encode_sideband(1, data)
    stream += pkt_line.encode_sideband(2, b"done\n") + pkt_line.FLUSH
    band = pkt_line.demux_sideband(pkt_line.decode_all(stream))
    assert band.data == data
    assert band.progress == ["Counting objects", "done"]
    assert band.error is None


def test_sideband_error_band_is_reported():
    stream = pkt_line.encode_sideband(3, b"upload-pack: not our ref\n") + pkt_line.FLUSH
    assert pkt_line.demux_sideband(pkt_line.decode_all(stream)).error == "upload-pack: not our ref"


def test_split_pkt_prefix_leaves_the_pack_untouched():
    body = pkt_line.encode_all(["old new refs/heads/main"]) + b"PACK\x00\x00\x00\x02rest"
    packets, rest = pkt_line.split_pkt_prefix(body)
    assert packets == [Data(b"old new refs/heads/main\n"), Flush()]
    assert rest == b"PACK\x00\x00\x00\x02rest"


def test_describe_stream_summarises_lines_and_pack():
    body = pkt_line.encode_all(["want abc"]) + b"PACK\x00\x00\x00\x02\x00\x00\x00\x03" + b"z" * 20
    assert pkt_line.describe_stream(body) == ["000d want abc", "0000 (flush)",
                                              "PACK version 2, 3 objects, 32 bytes"]
