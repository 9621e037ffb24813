"""The graphql demo's failure modes (its normal run is in tests/test_demos.py).

Each switch turns off the mechanism an act shows; with it, the act's check
must fail: exit 1 and a message that names what went wrong.
"""

from __future__ import annotations

import pytest

from tests.conftest import assert_demo_failed, need_binary, run_demo

pytestmark = pytest.mark.loopback


@pytest.mark.timeout(90)
@pytest.mark.parametrize(("switch", "act", "message"), [
    ("--no-redis", "1", "never saw bid #3 (dave's 25)"),
    ("--no-init-timeout", "2", "no connection_init at all: the server did not close within 4 s"),
    ("--no-auth", "2", "a stolen token in connection_init: the server did not close within 4 s"),
    ("--no-depth-limit", "2", "a query of depth 6 ran: the server has no depth limit"),
])
def test_each_switch_makes_its_act_fail(tmp_path, switch, act, message):
    need_binary("redis-server", "redis-server")
    assert_demo_failed(run_demo("learn_graphql.demo", "--act", act, switch, cwd=tmp_path), message)
