"""``--peer-name ADDR=NAME``: how a DNS server names the sender of a message in its events (pure)."""

from __future__ import annotations

import argparse

import pytest

from learn_dns.peers import PeerNames, add_peer_names, parse_peer_name

pytestmark = pytest.mark.pure


def test_an_address_nobody_named_is_its_own_name():
    names = PeerNames({"127.53.0.53": "resolver"})
    assert names("127.53.0.53") == "resolver"
    assert names("127.53.0.4") == "127.53.0.4"


def test_the_option_is_repeatable_and_checked():
    parser = argparse.ArgumentParser()
    add_peer_names(parser)
    args = parser.parse_args(["--peer-name", "127.0.0.1=demo", "--peer-name", "127.53.0.99=trace"])
    assert PeerNames(args.peer_name) == {"127.0.0.1": "demo", "127.53.0.99": "trace"}
    for bad in ("127.0.0.1", "=demo", "127.0.0.1="):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_peer_name(bad)
