"""Differential: two aiortc peers, relay-only, through coturn (a TURN server nobody here wrote)."""

from __future__ import annotations

import pytest

from learn_webrtc.chat import say
from learn_webrtc.peer import configuration, pair
from learn_webrtc.turn import coturn
from tests.conftest import need_binary
from tests.webrtc.test_webrtc_peers import QUIET, connect_chat

pytestmark = pytest.mark.differential


async def test_relay_only_peers_go_through_coturn(signaling_url):
    need_binary("turnserver", "coturn")
    with coturn() as turn:
        relayed = configuration(turn.server, relay_only=True)
        async with pair(QUIET, signaling_url, "relayed", relayed, relayed) as (alice, bob):
            alice_in, bob_in = await connect_chat(alice, bob)
            say(alice_in.channel, alice.trace, "via coturn")
            assert (await bob_in.next_json())["text"] == "via coturn"
            for peer in (alice, bob):
                local, remote = peer.selected_pair()
                assert local.startswith("relay 127.0.0.1:") and remote.startswith("relay 127.0.0.1:")
                assert all(" typ relay" in c for c in peer.local_candidates)
