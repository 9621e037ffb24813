"""The hybrid's pure parts: the webhook signature, the event envelope, the fan-out window, the SSE parser."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json

import pytest

from learn_choose.hybrid import signature
from learn_choose.hybrid.clients import SseParser
from learn_choose.hybrid.envelope import (
    BadEvent,
    Event,
    id_key,
    parse_client_message,
    parse_webhook,
    sse_frame,
    valid_id,
)
from learn_choose.hybrid.fanout import Window

pytestmark = pytest.mark.pure

NOW = 1_765_142_400
BODY = b'{"type": "price", "data": {"n": 1}}'


def test_the_signature_is_an_hmac_sha256_over_id_timestamp_and_raw_body():
    # Computed here with hashlib's HMAC, not with the module under test.
    expected = base64.b64encode(hmac.new(b"s3cret", b"evt_1.1765142400." + BODY, hashlib.sha256).digest())
    assert signature.sign("s3cret", "evt_1", NOW, BODY) == "v1," + expected.decode()
    headers = signature.headers("s3cret", "evt_1", NOW, BODY)
    assert signature.verify(["s3cret"], headers, BODY, now=NOW) == "evt_1"


@pytest.mark.parametrize("change, reason", [
    (lambda h, b: (h, b + b" "), "signature mismatch"),  # one byte more in the body
    (lambda h, b: ({**h, "webhook-id": "evt_2"}, b), "signature mismatch"),  # id swapped: signed too
    (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b), "missing"),
    (lambda h, b: ({**h, "webhook-timestamp": "1e9"}, b), "not an integer"),
])
def test_a_changed_or_incomplete_delivery_is_refused(change, reason):
    headers, body = change(signature.headers("s3cret", "evt_1", NOW, BODY), BODY)
    with pytest.raises(signature.Refused, match=reason):
        signature.verify(["s3cret"], headers, body, now=NOW)


def test_the_replay_window_is_symmetric_and_inclusive():
    for offset in (-300, 300):
        headers = signature.headers("s3cret", "evt_1", NOW + offset, BODY)
        assert signature.verify(["s3cret"], headers, BODY, now=NOW) == "evt_1"
    with pytest.raises(signature.Refused, match="too old"):
        signature.verify(["s3cret"], signature.headers("s3cret", "evt_1", NOW - 301, BODY), BODY, now=NOW)
    with pytest.raises(signature.Refused, match="future"):
        signature.verify(["s3cret"], signature.headers("s3cret", "evt_1", NOW + 301, BODY), BODY, now=NOW)


def test_a_wrong_secret_is_refused_and_either_secret_works_while_rotating():
    headers = signature.headers("new", "evt_1", NOW, BODY)
    with pytest.raises(signature.Refused, match="mismatch"):
        signature.verify(["old"], headers, BODY, now=NOW)
    assert signature.verify(["old", "new"], headers, BODY, now=NOW) == "evt_1"
    both = {**headers, "webhook-signature": signature.sign("old", "evt_1", NOW, BODY) + " "
            + headers["webhook-signature"]}
    assert signature.verify(["new"], both, BODY, now=NOW) == "evt_1"


def test_stream_ids_compare_as_numbers_not_text():
    assert id_key("999-5") < id_key("1000-0") and "999-5" > "1000-0"
    assert valid_id("1765142400123-0") and not valid_id("42") and not valid_id("1-2\n") and not valid_id(None)


def test_bodies_and_messages_are_checked_and_the_sse_frame_is_one_event():
    assert parse_webhook(BODY) == ("price", '{"n":1}')
    for bad in (b"not json", b'{"type": "price"}', b'{"type": "reset", "data": 1}'):
        with pytest.raises(BadEvent):
            parse_webhook(bad)
    message = parse_client_message('{"id": "7", "type": "order", "data": {"qty": 1}}')
    assert (message.id, message.type, message.data) == ("7", "order", '{"qty":1}')
    for bad in ('{"id": "a b", "type": "order", "data": 1}', '{"id": "1", "type": "price", "data": 1}', "[]"):
        with pytest.raises(BadEvent):
            parse_client_message(bad)
    frame = sse_frame(Event("5-0", "chat", "ws:ann/1", '{"text":"line1\\nline2"}'))
    assert frame.count(b"\n\n") == 1 and frame.endswith(b"\n\n")  # a JSON newline stays escaped
    parser, events = SseParser(), []
    for line in frame.decode().split("\n"):
        event = parser.line(line)
        if event:
            events.append(event)
    assert [(e.id, e.type) for e in events] == [("5-0", "chat")]
    assert json.loads(events[0].data) == {"source": "ws:ann/1", "data": {"text": "line1\nline2"}}


def ev(n: int) -> Event:
    return Event(f"{n}-0", "price", f"webhook:evt_{n}", "{}")


def test_the_window_answers_from_memory_or_says_ask_redis():
    window = Window("10-0", size=3)
    assert window.after("10-0") == [] and window.after("9-0") is None  # before this process started
    assert window.add([ev(11), ev(12)]) == 2
    assert window.add([ev(12)]) == 0  # read again after a reconnect: held once
    assert [e.id for e in window.after("10-0")] == ["11-0", "12-0"]
    assert [e.id for e in window.after("11-0")] == ["12-0"]
    window.add([ev(13), ev(14)])  # over size: 11 drops, the floor moves to it
    assert window.floor == "11-0" and window.last == "14-0"
    assert window.after("10-0") is None
    assert [e.id for e in window.after("11-0")] == ["12-0", "13-0", "14-0"]


async def test_waiting_subscribers_wake_on_add_and_end_on_close():
    window = Window("0-0")
    waiter = asyncio.create_task(window.wait_beyond("0-0"))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    window.add([ev(1)])
    assert await asyncio.wait_for(waiter, 1) is True
    closing = asyncio.create_task(window.wait_beyond("1-0"))
    await asyncio.sleep(0.01)
    window.close()
    assert await asyncio.wait_for(closing, 1) is False
