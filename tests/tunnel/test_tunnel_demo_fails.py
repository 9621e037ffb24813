"""The tunnel demo's failure modes (its normal run is in tests/test_demos.py).

Each act has a switch that turns off the mechanism it shows; with it, the act's
check must fail: exit 1 and a message that names what went wrong.
"""

from __future__ import annotations

import pytest

from tests.conftest import assert_demo_failed, run_demo

pytestmark = pytest.mark.loopback


@pytest.mark.timeout(90)
@pytest.mark.parametrize(("act", "switch", "message"), [
    (2, "--no-multiplexing", "the quick request waited for the slow one"),
    (3, "--no-flow-control", "no backpressure"),
    (4, "--no-reconnect", "the agent did not come back after the relay restarted"),
    (5, "--no-dedupe", "events without exactly one effect (id: times processed): {'e-11': 2}"),
    (6, "--no-websocket", "the relay refused the WebSocket: HTTP 403"),
])
def test_an_act_without_its_mechanism_fails_and_says_why(tmp_path, act, switch, message):
    assert_demo_failed(run_demo("learn_tunnel.demo", "--act", str(act), switch, cwd=tmp_path), message)
