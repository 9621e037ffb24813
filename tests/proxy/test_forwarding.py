"""Hop-by-hop removal and the forwarding fields (learn_proxy.forwarding)."""

from __future__ import annotations

import pytest

from learn_proxy.forwarding import client_response_headers, strip_hop_by_hop, upstream_request_headers

pytestmark = pytest.mark.pure


def names(headers) -> list[str]:
    return [k.lower() for k, _ in headers]


def test_connection_and_every_field_it_names_stop_at_the_proxy():
    headers = (
        ("Host", "a"),
        ("Connection", "keep-alive, X-Secret"),
        ("X-Secret", "1"),
        ("Keep-Alive", "timeout=5"),
        ("TE", "trailers"),
        ("Transfer-Encoding", "chunked"),
        ("Proxy-Connection", "keep-alive"),
        ("Upgrade", "h2c"),
        ("Accept", "*/*"),
    )
    assert names(strip_hop_by_hop(headers)) == ["host", "accept"]


def test_the_upstream_hop_gets_its_own_host_and_the_forwarding_fields():
    out = dict(
        upstream_request_headers(
            (("Host", "example.com"), ("Accept", "*/*")),
            client_ip="10.1.2.3",
            public_host="example.com",
            proto="https",
            upstream_authority="127.0.0.1:8002",
        )
    )
    assert out["Host"] == "127.0.0.1:8002"
    assert out["X-Forwarded-For"] == "10.1.2.3" and out["X-Forwarded-Host"] == "example.com"
    assert out["X-Forwarded-Proto"] == "https"
    assert out["Forwarded"] == "for=10.1.2.3;proto=https;host=example.com"


def test_forwarding_fields_are_appended_to_what_an_earlier_proxy_sent():
    headers = (("Host", "a"), ("X-Forwarded-For", "203.0.113.7"), ("Forwarded", "for=203.0.113.7"))
    out = dict(
        upstream_request_headers(
            headers, client_ip="::1", public_host="a", proto="http", upstream_authority="u:1"
        )
    )
    assert out["X-Forwarded-For"] == "203.0.113.7, ::1"
    assert out["Forwarded"] == 'for=203.0.113.7, for="[::1]";proto=http;host=a'  # RFC 7239 §6: IPv6 quoted


def test_without_forwarding_the_upstream_learns_nothing_about_the_client():
    out = upstream_request_headers(
        (("Host", "a"),),
        client_ip="1.2.3.4",
        public_host="a",
        proto="http",
        upstream_authority="u:1",
        forwarded=False,
    )
    assert names(out) == ["host"]


def test_a_websocket_handshake_keeps_its_upgrade_fields_both_ways():
    handshake = (
        ("Host", "a"),
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Key", "k"),
    )
    out = upstream_request_headers(
        handshake, client_ip="1.2.3.4", public_host="a", proto="http", upstream_authority="u:1"
    )
    assert ("Connection", "upgrade") in out and ("Upgrade", "websocket") in out
    back = client_response_headers((("Connection", "upgrade"), ("Upgrade", "websocket")), upgrade=True)
    assert back == [("Connection", "upgrade"), ("Upgrade", "websocket")]
    assert client_response_headers((("Connection", "upgrade"), ("Upgrade", "websocket"))) == []
