"""The graphql-transport-ws state machines, both ends, with no I/O: text in, events and texts out."""

from __future__ import annotations

import json

import pytest

from learn_graphql.transport_ws import (
    CLIENT_TYPES,
    Acknowledged,
    ClientConnection,
    Close,
    CloseCode,
    Completed,
    CompleteRequested,
    InitRequested,
    Next,
    OperationError,
    Pinged,
    ProtocolError,
    ServerConnection,
    SubscribeRequested,
    decode,
    encode,
)

pytestmark = pytest.mark.pure

QUERY = 'subscription { bids(lot: "lamp") { amount } }'


def msg(**fields) -> str:
    return json.dumps(fields)


def sent(conn) -> list[dict]:
    return [json.loads(text) for text in conn.data_to_send()]


def acknowledged_server() -> ServerConnection:
    server = ServerConnection()
    events = server.receive(msg(type="connection_init", payload={"token": "t"}))
    assert events == [InitRequested({"token": "t"})]
    server.accept()
    assert sent(server) == [{"type": "connection_ack"}]
    return server


def test_encode_is_compact_json():
    assert encode({"type": "ping"}) == '{"type":"ping"}'


@pytest.mark.parametrize(("text", "reason"), [
    ("not json", "not JSON"),
    ("[1, 2]", "no type"),
    ('{"payload": {}}', "no type"),
    ('{"type": "next", "id": "1", "payload": {}}', "type 'next'"),  # a server's message, sent to a server
    ('{"type": "start", "id": "1"}', "type 'start'"),  # the legacy protocol's name for subscribe
    ('{"type": "subscribe", "payload": {"query": "{ a }"}}', "subscribe without an id"),
    ('{"type": "subscribe", "id": "1", "payload": {}}', "subscribe without a query"),
    ('{"type": "subscribe", "id": "1", "payload": "{ a }"}', "payload not an object"),
])
def test_decode_refuses_what_is_not_a_message_with_4400(text, reason):
    with pytest.raises(ProtocolError) as caught:
        decode(text, CLIENT_TYPES)
    assert caught.value.code == CloseCode.BAD_REQUEST and reason in caught.value.reason


def test_binary_messages_are_refused_with_4400():
    server = ServerConnection()
    [close] = server.receive(b'{"type": "connection_init"}')
    assert close.code == 4400


def test_the_server_acks_a_connection_init_it_accepts_with_its_payload():
    server = ServerConnection()
    [event] = server.receive(msg(type="connection_init"))
    assert event == InitRequested({}) and server.state == "deciding"
    server.accept({"server": "s1"})
    assert sent(server) == [{"type": "connection_ack", "payload": {"server": "s1"}}]
    assert server.state == "acknowledged"


def test_a_rejected_connection_init_closes_with_4403():
    server = ServerConnection()
    server.receive(msg(type="connection_init", payload={"token": "wrong"}))
    assert server.reject() == Close(4403, "Forbidden")
    assert sent(server) == []


def test_a_second_connection_init_closes_with_4429():
    server = acknowledged_server()
    assert server.receive(msg(type="connection_init")) == [Close(4429, "Too many initialisation requests")]


def test_a_second_connection_init_before_the_decision_closes_with_4429_too():
    server = ServerConnection()
    server.receive(msg(type="connection_init"))
    assert server.receive(msg(type="connection_init"))[0].code == 4429


def test_subscribe_before_the_ack_closes_with_4401():
    server = ServerConnection()
    events = server.receive(msg(type="subscribe", id="1", payload={"query": QUERY}))
    assert events == [Close(4401, "Unauthorized")]


def test_the_init_timeout_closes_with_4408_only_while_waiting_for_init():
    waiting = ServerConnection()
    assert waiting.init_timed_out() == Close(4408, "Connection initialisation timeout")
    assert acknowledged_server().init_timed_out() is None


def test_subscribe_after_the_ack_starts_an_operation():
    server = acknowledged_server()
    events = server.receive(msg(type="subscribe", id="a", payload={"query": QUERY, "variables": {"x": 1}}))
    assert events == [SubscribeRequested("a", QUERY, {"x": 1}, None)]


def test_a_duplicate_id_while_the_first_runs_closes_with_4409():
    server = acknowledged_server()
    server.receive(msg(type="subscribe", id="a", payload={"query": QUERY}))
    assert server.receive(msg(type="subscribe", id="a", payload={"query": QUERY})) == [
        Close(4409, "Subscriber for a already exists")]


def test_an_id_may_be_reused_once_its_operation_completed():
    server = acknowledged_server()
    server.receive(msg(type="subscribe", id="a", payload={"query": "{ lots { id } }"}))
    server.send_next("a", {"data": {"lots": []}})
    server.send_complete("a")
    assert [m["type"] for m in sent(server)] == ["next", "complete"]
    assert server.receive(msg(type="subscribe", id="a", payload={"query": QUERY}))[0].id == "a"


def test_complete_from_the_client_stops_the_operation_and_nothing_more_is_sent_for_it():
    server = acknowledged_server()
    server.receive(msg(type="subscribe", id="a", payload={"query": QUERY}))
    assert server.receive(msg(type="complete", id="a")) == [CompleteRequested("a")]
    server.send_next("a", {"data": {}})
    assert sent(server) == []


def test_an_error_ends_the_operation_without_a_complete():
    server = acknowledged_server()
    server.receive(msg(type="subscribe", id="a", payload={"query": "{ deep }"}))
    server.send_error("a", [{"message": "too deep"}])
    server.send_complete("a")
    assert sent(server) == [{"id": "a", "type": "error", "payload": [{"message": "too deep"}]}]


def test_ping_is_answered_with_pong_in_any_open_state():
    for server in (ServerConnection(), acknowledged_server()):
        assert server.receive(msg(type="ping")) == [Pinged()]
        assert sent(server) == [{"type": "pong"}]


def test_nothing_is_sent_or_decided_after_the_close():
    server = ServerConnection()
    server.receive("garbage")
    assert server.receive(msg(type="connection_init")) == []
    server.ping()
    assert sent(server) == []


def test_the_client_sends_connection_init_first_and_operations_after_the_ack():
    client = ClientConnection({"token": "alice-token"})
    assert sent(client) == [{"type": "connection_init", "payload": {"token": "alice-token"}}]
    events = client.receive(msg(type="connection_ack", payload={"server": "s1"}))
    assert events == [Acknowledged({"server": "s1"})]
    client.subscribe("1", QUERY)
    assert sent(client) == [{"id": "1", "type": "subscribe", "payload": {"query": QUERY}}]


def test_the_client_turns_next_error_and_complete_into_events():
    client = ClientConnection()
    client.receive(msg(type="connection_ack"))
    client.subscribe("1", QUERY)
    client.subscribe("2", "{ x }")
    events = client.receive(msg(type="next", id="1", payload={"data": {"a": 1}}))
    assert events == [Next("1", {"data": {"a": 1}})]
    assert client.receive(msg(type="complete", id="1")) == [Completed("1")]
    assert client.receive(msg(type="error", id="2", payload=[{"message": "no"}])) == [
        OperationError("2", [{"message": "no"}])]
    assert client.running == set()


def test_the_client_refuses_to_reuse_a_running_id():
    client = ClientConnection()
    client.receive(msg(type="connection_ack"))
    client.subscribe("1", QUERY)
    with pytest.raises(ValueError, match="4409"):
        client.subscribe("1", QUERY)


def test_next_before_the_ack_is_a_protocol_error_for_the_client():
    client = ClientConnection()
    [close] = client.receive(msg(type="next", id="1", payload={"data": {}}))
    assert close.code == 4400 and "expected: connection_ack" in close.reason


def test_messages_for_an_operation_the_client_completed_are_dropped():
    client = ClientConnection()
    client.receive(msg(type="connection_ack"))
    client.subscribe("1", QUERY)
    client.complete("1")
    assert client.receive(msg(type="next", id="1", payload={"data": {}})) == []


def test_the_client_refuses_a_message_only_clients_send():
    client = ClientConnection()
    [close] = client.receive(msg(type="subscribe", id="1", payload={"query": "{ a }"}))
    assert close.code == 4400


def test_a_client_and_a_server_talk_through_memory():
    client, server = ClientConnection({"token": "t"}), ServerConnection()
    for text in client.data_to_send():
        [init] = server.receive(text)
    server.accept()
    for text in server.data_to_send():
        client.receive(text)
    client.subscribe("1", QUERY)
    for text in client.data_to_send():
        [start] = server.receive(text)
    server.send_next(start.id, {"data": {"bids": {"amount": 15}}})
    server.send_complete(start.id)
    events = [e for text in server.data_to_send() for e in client.receive(text)]
    assert init.payload == {"token": "t"}
    assert events == [Next("1", {"data": {"bids": {"amount": 15}}}), Completed("1")]


def test_a_result_encoded_once_makes_the_same_text_as_send_next():
    server = acknowledged_server()
    server.receive(msg(type="subscribe", id="a", payload={"query": QUERY}))
    result = {"data": {"bids": {"amount": 15, "bidder": "carol"}}}
    server.send_next("a", result)
    server.send_next_encoded("a", encode(result))
    first, second = server.data_to_send()
    assert first == second


def test_the_driver_may_close_for_its_own_reasons_and_then_nothing_goes_out():
    server = acknowledged_server()
    server.receive(msg(type="subscribe", id="a", payload={"query": QUERY}))
    assert server.fail(1008, "too slow") == Close(1008, "too slow")
    server.send_next_encoded("a", "{}")
    assert sent(server) == []
