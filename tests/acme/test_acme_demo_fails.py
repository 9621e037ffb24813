"""The acme demo's failure modes (its normal run is in tests/test_demos.py).

Each act has a switch that turns off the mechanism it shows; with it, the act's
check must fail: exit 1 and a message that names what went wrong.
"""

from __future__ import annotations

import pytest

from tests.conftest import assert_demo_failed, need_binary, run_demo

pytestmark = pytest.mark.loopback


@pytest.mark.timeout(90)
@pytest.mark.parametrize(("act", "switch", "message"), [
    (1, "--no-http01-response",
     "no certificate for www.wirelab.test: the CA said unauthorized: the challenge URL answered 404"),
    (2, "--no-signature-check", "the CA accepted a request signed by another key"),
    (3, "--no-root-trust", "openssl s_client did not verify the chain for www.wirelab.test"),
    (4, "--no-dns-publish",
     "no certificate by DNS-01: the CA said dns: no TXT record at the _acme-challenge name"),
    (5, "--no-dns-publish", "the first certificate by DNS-PERSIST-01 failed: the CA said dns: no TXT record"),
])
def test_an_act_without_its_mechanism_fails_and_says_why(tmp_path, act, switch, message):
    if act == 3:  # the checks that fail are openssl's and curl's
        need_binary("openssl", "openssl")
        need_binary("curl", "curl")
    assert_demo_failed(run_demo("learn_acme.demo", "--act", str(act), switch, cwd=tmp_path), message)
