"""Two Connections wired back to back (no sockets): streams, flow control, cancellation, limits."""

from __future__ import annotations

import pytest

from learn_tunnel.frames import ErrorCode, Flags, Frame, FrameType, serialize
from learn_tunnel.mux import (
    INITIAL_WINDOW,
    Connection,
    ConnectionClosed,
    DataReceived,
    HeadersReceived,
    StreamReset,
    WindowUpdated,
)

pytestmark = pytest.mark.pure

GET = {"method": "GET", "path": "/", "headers": []}


def wire(conn: Connection) -> bytes:
    return b"".join(serialize(f) for f in conn.frames_to_send())


def pair(**options):
    return Connection(opener=True, **options), Connection(opener=False, **options)


def test_a_request_and_its_response_travel_on_one_stream():
    relay, agent = pair()
    sid = relay.open_stream(GET, end_stream=True)
    assert agent.receive_data(wire(relay)) == [HeadersReceived(sid, GET, True)]
    agent.send_headers(sid, {"status": 200, "headers": []})
    agent.send_data(sid, b"hello", end_stream=True)
    events = relay.receive_data(wire(agent))
    assert events == [HeadersReceived(sid, {"status": 200, "headers": []}, False),
                      DataReceived(sid, b"hello", True)]
    assert sid not in relay.streams and sid not in agent.streams  # both sides ended: closed


def test_streams_get_odd_increasing_ids_and_interleave():
    relay, agent = pair()
    a, b = relay.open_stream(GET), relay.open_stream(GET)
    assert (a, b) == (1, 3)
    relay.send_data(a, b"A1")
    relay.send_data(b, b"B1", end_stream=True)
    relay.send_data(a, b"A2", end_stream=True)
    events = agent.receive_data(wire(relay))
    assert [(type(e).__name__, e.stream_id) for e in events] == [
        ("HeadersReceived", 1), ("HeadersReceived", 3),
        ("DataReceived", 1), ("DataReceived", 3), ("DataReceived", 1)]


def test_a_sender_stops_at_the_window_and_resumes_after_window_update():
    relay, agent = pair(initial_window=1000)
    sid = relay.open_stream(GET)
    assert relay.send_data(sid, b"x" * 2500) == 1000  # the rest must wait
    assert relay.send_data(sid, b"x" * 1500) == 0
    received = agent.receive_data(wire(relay))
    assert sum(len(e.data) for e in received if isinstance(e, DataReceived)) == 1000
    agent.acknowledge(sid, 600)  # the app consumed 600 bytes
    assert relay.receive_data(wire(agent)) == [WindowUpdated(sid, 600)]
    assert relay.send_data(sid, b"x" * 1500, end_stream=True) == 600
    assert relay.streams[sid].state == "open"  # END_STREAM waits for the last byte


def test_one_full_window_does_not_hold_up_another_stream():
    relay, agent = pair(initial_window=100)
    big, small = relay.open_stream(GET), relay.open_stream(GET)
    assert relay.send_data(big, b"b" * 1000) == 100
    assert relay.send_data(small, b"small", end_stream=True) == 5


def test_data_beyond_the_window_closes_the_connection_with_a_reason():
    relay, agent = pair(initial_window=10)
    sid = relay.open_stream(GET)
    agent.receive_data(wire(relay))
    events = agent.receive_data(serialize(Frame(FrameType.DATA, Flags.NONE, sid, b"z" * 11)))  # 1 B too many
    assert events[-1].code is ErrorCode.FLOW_CONTROL_ERROR
    assert "11 B of DATA on stream 1 with a window of 10 B" in events[-1].reason


def test_cancellation_resets_only_that_stream():
    relay, agent = pair()
    a, b = relay.open_stream(GET), relay.open_stream(GET)
    agent.receive_data(wire(relay))
    relay.reset(a, ErrorCode.CANCEL, "public client went away")
    events = agent.receive_data(wire(relay))
    assert events == [StreamReset(a, ErrorCode.CANCEL, "public client went away", remote=True)]
    assert a not in agent.streams and b in agent.streams
    agent.send_data(b, b"still fine", end_stream=True)
    assert relay.receive_data(wire(agent)) == [DataReceived(b, b"still fine", True)]


def test_late_frames_on_a_stream_we_reset_are_ignored():
    relay, agent = pair()
    sid = relay.open_stream(GET)
    agent.receive_data(wire(relay))
    agent.send_data(sid, b"late")
    relay.reset(sid, ErrorCode.CANCEL)
    assert relay.receive_data(wire(agent)) == []
    assert relay.closed is None


def test_a_response_that_crosses_our_reset_is_ignored_not_taken_for_a_new_stream():
    # The public client leaves while the agent is answering: the agent's HEADERS were already on
    # the wire when our RST_STREAM went out.  Seen under wrk load (bench_tunnel.py): the relay
    # took them for the agent opening a stream and closed the whole tunnel.
    relay, agent = pair()
    sid = relay.open_stream(GET, end_stream=True)
    agent.receive_data(wire(relay))
    agent.send_headers(sid, {"status": 200, "headers": []})
    agent.send_data(sid, b"body", end_stream=True)
    relay.reset(sid, ErrorCode.CANCEL, "public client went away")
    assert relay.receive_data(wire(agent)) == []
    assert relay.closed is None
    assert agent.receive_data(wire(relay)) == []  # the agent already ended the stream on its side
    assert agent.closed is None and relay.open_stream(GET) == sid + 2


def test_data_after_the_peer_ended_its_side_is_a_stream_error():
    relay, agent = pair()
    sid = relay.open_stream(GET, end_stream=True)
    agent.receive_data(wire(relay))
    extra = serialize(Frame(FrameType.DATA, Flags.NONE, sid, b"more"))
    events = agent.receive_data(extra)
    assert len(events) == 1 and isinstance(events[0], StreamReset)
    assert events[0].code is ErrorCode.STREAM_CLOSED and not events[0].remote
    assert "'recv DATA' is not allowed in state half_closed_remote" in events[0].reason
    assert agent.closed is None  # the other streams go on


@pytest.mark.parametrize(("frame", "reason"), [
    (Frame(FrameType.DATA, Flags.NONE, 7, b"x"), "DATA on stream 7, which was never opened"),
    (Frame(FrameType.HEADERS, Flags.NONE, 4, b"{}"), "a new stream needs an odd id"),
    (Frame(FrameType.WINDOW_UPDATE, Flags.NONE, 0, b"\x00\x00\x00\x01"), "WINDOW_UPDATE on stream 0"),
])
def test_an_invalid_stream_id_closes_the_connection_with_a_reason(frame, reason):
    agent = Connection(opener=False)
    events = agent.receive_data(serialize(frame))
    assert isinstance(events[-1], ConnectionClosed) and not events[-1].remote
    assert events[-1].code is ErrorCode.PROTOCOL_ERROR and reason in events[-1].reason
    goaway = agent.frames_to_send()[-1]
    assert goaway.type is FrameType.GOAWAY and reason.encode() in goaway.payload


def test_the_agent_may_not_open_streams():
    relay = Connection(opener=True)
    events = relay.receive_data(serialize(Frame(FrameType.HEADERS, Flags.NONE, 1, b"{}")))
    assert "the agent may not open streams" in events[-1].reason


def test_an_oversized_frame_closes_the_connection():
    agent = Connection(opener=False, max_frame_size=100)
    events = agent.receive_data(serialize(Frame(FrameType.DATA, Flags.NONE, 1, b"x" * 101)))
    assert events[-1].code is ErrorCode.FRAME_SIZE_ERROR


def test_a_flood_of_frames_nobody_asked_for_closes_the_connection():
    relay, agent = pair(flood_limit=50)
    sid = relay.open_stream(GET)
    wire(relay)
    update = serialize(Frame(FrameType.WINDOW_UPDATE, Flags.NONE, sid, b"\x00\x00\x00\x01"))
    events = relay.receive_data(update * 60)
    assert events[-1].code is ErrorCode.ENHANCE_YOUR_CALM and "flood" in events[-1].reason
    assert sum(isinstance(e, WindowUpdated) for e in events) == 50


def test_window_updates_that_answer_our_data_are_not_a_flood():
    relay, agent = pair(flood_limit=5)
    sid = relay.open_stream(GET)
    agent.receive_data(wire(relay))
    for _ in range(20):
        relay.send_data(sid, b"x" * 10)
        for event in agent.receive_data(wire(relay)):
            agent.acknowledge(event.stream_id, len(event.data))
        assert relay.receive_data(wire(agent)) == [WindowUpdated(sid, 10)]
    assert relay.streams[sid].send_window == INITIAL_WINDOW


def test_too_many_streams_at_once_are_refused_one_by_one():
    relay, agent = pair(max_streams=2)
    ids = [relay.open_stream(GET) for _ in range(3)]
    agent.receive_data(wire(relay))
    refused = relay.receive_data(wire(agent))
    assert refused == [StreamReset(ids[2], ErrorCode.REFUSED_STREAM, "more than 2 streams at once", True)]


def test_goaway_from_the_peer_ends_every_stream():
    relay, agent = pair()
    relay.open_stream(GET)
    agent.receive_data(wire(relay))
    agent.close(ErrorCode.NO_ERROR, "agent shutting down")
    closed = ConnectionClosed(ErrorCode.NO_ERROR, "agent shutting down", remote=True)
    assert relay.receive_data(wire(agent)) == [closed]
    assert relay.streams == {}
