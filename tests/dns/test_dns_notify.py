"""NOTIFY as actions (notify.py, nameserver.py): events and a hand-moved clock in, actions out; no I/O."""

from __future__ import annotations

import io
import itertools
import struct
from pathlib import Path

import dns.message
import dns.opcode
import dns.rcode
import pytest

import learn_dns
from learn_dns.nameserver import AuthoritativeServer
from learn_dns.notify import (
    NOTIFY_ATTEMPTS,
    NOTIFY_INTERVAL,
    Acknowledged,
    GaveUp,
    NotifyOutbox,
    RefreshZone,
    RetryAt,
    SendNotify,
)
from learn_dns.zone_data import load_zone_file
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.pure

ZONES = Path(learn_dns.__file__).parent / "zones"
SECONDARY = "127.53.0.4"


@pytest.fixture
def zone():
    return load_zone_file(ZONES / "example.com.zone")


def outbox(targets=(SECONDARY,)) -> NotifyOutbox:
    return NotifyOutbox(list(targets), itertools.count(100).__next__)


def ack_for(send: SendNotify) -> bytes:
    """The secondary's acknowledgement: the NOTIFY echoed with QR set."""
    return dns.message.make_response(dns.message.from_wire(send.wire)).to_wire()


def test_a_changed_zone_is_announced_to_every_secondary_with_a_retry_timer(zone):
    actions = outbox([SECONDARY, "127.53.0.6"]).zone_changed(zone, now=10.0)
    sends = [a for a in actions if isinstance(a, SendNotify)]
    timers = [a for a in actions if isinstance(a, RetryAt)]
    assert [s.target for s in sends] == [SECONDARY, "127.53.0.6"]
    assert [t.when for t in timers] == [10.0 + NOTIFY_INTERVAL] * 2
    message = dns.message.from_wire(sends[0].wire)
    assert message.opcode() == dns.opcode.NOTIFY and message.question[0].name.to_text() == "example.com."
    assert message.id == timers[0].query_id and sends[0].serial == zone.serial and sends[0].attempt == 1


def test_an_acknowledged_notify_is_not_sent_again(zone):
    box = outbox()
    send, timer = box.zone_changed(zone, now=0.0)
    assert box.response_received(ack_for(send), SECONDARY) == [Acknowledged(zone.origin, SECONDARY)]
    assert box.timer_fired(timer.query_id, SECONDARY, now=timer.when) == []
    assert box.pending == {}


def test_a_lost_notify_is_resent_with_a_new_id_then_given_up(zone):
    box = outbox()
    send, timer = box.zone_changed(zone, now=0.0)
    ids = {timer.query_id}
    for attempt in range(2, NOTIFY_ATTEMPTS + 1):
        send, timer = box.timer_fired(timer.query_id, SECONDARY, now=timer.when)
        assert send.attempt == attempt and timer.query_id not in ids
        ids.add(timer.query_id)
    assert box.timer_fired(timer.query_id, SECONDARY, now=timer.when) == [
        GaveUp(zone.origin, SECONDARY, NOTIFY_ATTEMPTS)]
    assert box.pending == {}


def test_an_ack_from_another_address_or_for_an_old_id_is_ignored(zone):
    box = outbox()
    send, timer = box.zone_changed(zone, now=0.0)
    assert box.response_received(ack_for(send), "127.0.0.66") == []  # forged source
    resend, _ = box.timer_fired(timer.query_id, SECONDARY, now=timer.when)
    assert box.response_received(ack_for(send), SECONDARY) == []  # the first try's id: too late
    assert box.response_received(ack_for(resend), SECONDARY) == [Acknowledged(zone.origin, SECONDARY)]


def test_a_response_that_is_not_a_notify_ack_is_ignored(zone):
    box = outbox()
    send, _ = box.zone_changed(zone, now=0.0)
    query_id = struct.unpack_from("!H", send.wire)[0]
    answer = dns.message.make_response(dns.message.make_query("example.com.", "SOA", id=query_id))
    assert box.response_received(answer.to_wire(), SECONDARY) == []
    assert box.response_received(b"\x00", SECONDARY) == []


def test_a_second_change_replaces_the_unacknowledged_first(zone):
    box = outbox()
    _, first_timer = box.zone_changed(zone, now=0.0)
    box.zone_changed(zone, now=0.5)
    assert len(box.pending) == 1
    assert box.timer_fired(first_timer.query_id, SECONDARY, now=1.0) == []  # the old timer: a no-op


def test_the_server_core_returns_notify_actions_on_reload_and_takes_acks_from_answer(tmp_path):
    path = tmp_path / "example.com.zone"
    path.write_text((ZONES / "example.com.zone").read_text())
    server = AuthoritativeServer([str(path)], [SECONDARY], Trace("t", stream=io.StringIO()), False,
                                 itertools.count(1).__next__)
    server.load_files()
    assert server.reload(now=5.0) == []  # same serial: nothing to announce
    path.write_text(path.read_text().replace("2026112101", "2026112102"))
    send, timer = server.reload(now=6.0)
    assert isinstance(send, SendNotify) and send.serial == 2026112102 and timer.when == 6.0 + NOTIFY_INTERVAL
    assert server.answer(ack_for(send), (SECONDARY, 5300), tcp=False) == []  # nothing to send back...
    assert server.take_actions() == [Acknowledged(send.origin, SECONDARY)]  # ...but an action


def test_a_notify_from_the_primary_becomes_a_refresh_and_others_are_refused():
    server = AuthoritativeServer([], [], Trace("t", stream=io.StringIO()), False, lambda: 0)
    origin = load_zone_file(ZONES / "example.com.zone").origin
    server.primaries[origin] = "127.53.0.3"
    notify = dns.message.make_query("example.com.", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    [refused] = server.answer(notify.to_wire(), ("127.0.0.1", 1), tcp=False)
    assert dns.message.from_wire(refused).rcode() == dns.rcode.REFUSED and server.take_actions() == []
    [ack] = server.answer(notify.to_wire(), ("127.53.0.3", 1), tcp=False)
    assert dns.message.from_wire(ack).rcode() == dns.rcode.NOERROR
    assert server.take_actions() == [RefreshZone(origin)]
