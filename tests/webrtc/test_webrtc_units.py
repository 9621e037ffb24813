"""Pure pieces: file chunks and their checks, the pixel counter, SDP candidate splitting."""

from __future__ import annotations

import hashlib

import pytest

from learn_webrtc.file_transfer import CHUNK_SIZE, Assembler, Manifest, TransferError, frames, make_manifest
from learn_webrtc.media import BITS, HEIGHT, WIDTH, draw_counter, read_counter, tone_samples
from learn_webrtc.peer import candidate_type, describe_candidate, split_candidates

pytestmark = pytest.mark.pure

DATA = bytes(range(256)) * 200  # 51,200 bytes: three full chunks and a short one


def assemble(data: bytes, messages=None) -> Assembler:
    manifest = Manifest.from_message(make_manifest("f", data).to_message())
    assembler = Assembler(manifest)
    for message in messages if messages is not None else frames(data):
        assembler.add(message)
    return assembler


def test_a_file_is_cut_into_indexed_chunks_and_reassembled():
    messages = list(frames(DATA))
    assert len(messages) == 4 and messages[0][:4] == b"\x00\x00\x00\x00"
    assert len(messages[0]) == 4 + CHUNK_SIZE and len(messages[3]) == 4 + len(DATA) - 3 * CHUNK_SIZE
    assembler = assemble(DATA)
    assert assembler.complete and assembler.verify() == DATA
    assert assembler.manifest.sha256 == hashlib.sha256(DATA).hexdigest()


def test_chunks_may_arrive_in_any_order():
    assert assemble(DATA, reversed(list(frames(DATA)))).verify() == DATA


def test_a_corrupted_chunk_is_detected_and_named():
    messages = list(frames(DATA))
    messages[2] = messages[2][:100] + bytes([messages[2][100] ^ 1]) + messages[2][101:]
    with pytest.raises(TransferError, match=r"SHA-256 mismatch: corrupted chunk\(s\) \[2\]"):
        assemble(DATA, messages).verify()


def test_a_missing_or_duplicated_chunk_is_an_error():
    messages = list(frames(DATA))
    with pytest.raises(TransferError, match="1 chunk"):
        assemble(DATA, messages[:3]).verify()
    with pytest.raises(TransferError, match="twice"):
        assemble(DATA, messages + [messages[0]])


def test_an_empty_file_is_one_empty_chunk():
    assert assemble(b"").verify() == b""


def test_a_manifest_that_contradicts_itself_is_refused():
    message = make_manifest("f", DATA).to_message() | {"chunks": 9}
    with pytest.raises(TransferError, match="disagrees"):
        Manifest.from_message(message)


@pytest.mark.parametrize("counter", [0, 1, 0x5A5A, 12345, (1 << BITS) - 1])
def test_the_counter_drawn_in_blocks_reads_back(counter):
    assert read_counter(draw_counter(counter), WIDTH, HEIGHT) == counter


def test_the_counter_survives_noise_within_a_block():
    luma = bytearray(draw_counter(0xBEEF))
    for i in range(0, len(luma), 7):  # +-40 on every 7th pixel: worse than VP8 at a sane bitrate
        luma[i] = max(0, min(255, luma[i] + (40 if i % 2 else -40)))
    assert read_counter(bytes(luma), WIDTH, HEIGHT) == 0xBEEF


def test_the_tone_is_a_sine_of_the_right_amplitude():
    samples = tone_samples(0, 480, 48000, hz=100, amplitude=1000)
    assert len(samples) == 960
    assert int.from_bytes(samples[240:242], "little", signed=True) == 1000  # a quarter period in


SDP = "\r\n".join([
    "v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0", "a=group:BUNDLE 0 1",
    "m=audio 5000 UDP/TLS/RTP/SAVPF 96", "a=mid:0",
    "a=candidate:abc 1 udp 2130706431 127.0.0.2 5000 typ host", "a=end-of-candidates",
    "m=application 5000 UDP/DTLS/SCTP webrtc-datachannel", "a=mid:1",
    "a=candidate:abc 1 udp 2130706431 127.0.0.2 5000 typ host",
    "a=candidate:def 1 udp 16777215 127.0.0.1 6000 typ relay raddr 0.0.0.0 rport 0",
]) + "\r\n"


def test_candidates_are_taken_out_of_the_sdp_once_each_with_their_first_mline():
    sdp, candidates = split_candidates(SDP)
    assert "a=candidate" not in sdp and "end-of-candidates" not in sdp and "a=mid:1" in sdp
    assert candidates == [
        {"candidate": "candidate:abc 1 udp 2130706431 127.0.0.2 5000 typ host",
         "sdpMid": "0", "sdpMLineIndex": 0},
        {"candidate": "candidate:def 1 udp 16777215 127.0.0.1 6000 typ relay raddr 0.0.0.0 rport 0",
         "sdpMid": "1", "sdpMLineIndex": 1},
    ]
    assert candidate_type(candidates[1]["candidate"]) == "relay"
    assert describe_candidate(candidates[0]["candidate"]) == "typ host  udp 127.0.0.2:5000"


def test_a_corrupted_chunk_passes_only_when_checksums_are_off():
    messages = list(frames(DATA))
    messages[1] = messages[1][:-1] + bytes([messages[1][-1] ^ 0xFF])
    assert len(assemble(DATA, messages).verify(checksums=False)) == len(DATA)
    with pytest.raises(TransferError, match=r"corrupted chunk\(s\) \[1\]"):
        assemble(DATA, messages).verify()
