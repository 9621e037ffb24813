"""The subscriber's reconnect states (``subscriber.RECONNECT``), as a table: what may follow what.

Pure: the table and a machine on it, no Redis.  The real subscriber follows it
through a Redis restart in test_pubsub.py.
"""

from __future__ import annotations

import pytest

from learn_pubsub.subscriber import RECONNECT
from wirelab_common.state_table import BadTransition, Machine

pytestmark = pytest.mark.pure


def test_a_restart_goes_subscribed_waiting_connecting_subscribed_again():
    machine = Machine(RECONNECT, "CONNECTING")
    path = [machine.fire(event) for event in ("confirmed", "lost", "backoff_over", "failed",
                                              "backoff_over", "confirmed")]
    assert path == ["SUBSCRIBED", "WAITING", "CONNECTING", "WAITING", "CONNECTING", "SUBSCRIBED"]


def test_a_subscriber_never_subscribes_again_without_waiting_out_its_backoff():
    machine = Machine(RECONNECT, "SUBSCRIBED")
    machine.fire("lost")
    with pytest.raises(BadTransition, match=r"'confirmed' is not allowed in state WAITING \(expected: "
                                            r"backoff_over\)"):
        machine.fire("confirmed")
