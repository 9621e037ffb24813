"""The acme demo's failure modes (its normal run is in tests/test_demos.py).

Each act has a switch that turns off the mechanism it shows; with it, the act's
check must fail: exit 1 and a message that names what went wrong.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import need_binary

pytestmark = pytest.mark.loopback

DEMO = [sys.executable, "-m", "learn_acme.demo"]


def run_demo(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([*DEMO, *args], cwd=cwd, capture_output=True, text=True, timeout=80)


@pytest.mark.timeout(90)
def test_act_1_fails_when_the_token_is_not_served(tmp_path):
    result = run_demo("--act", "1", "--no-http01-response", cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert (
        "no certificate for www.wirelab.test: the CA said unauthorized: the challenge URL answered 404"
        in output
    )


@pytest.mark.timeout(90)
def test_act_2_fails_when_the_ca_does_not_check_signatures(tmp_path):
    result = run_demo("--act", "2", "--no-signature-check", cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "the CA accepted a request signed by another key" in output


@pytest.mark.timeout(90)
def test_act_3_fails_when_the_clients_do_not_trust_our_root(tmp_path):
    need_binary("openssl", "openssl")
    need_binary("curl", "curl")
    result = run_demo("--act", "3", "--no-root-trust", cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "openssl s_client did not verify the chain for www.wirelab.test" in output


@pytest.mark.timeout(90)
def test_act_4_fails_when_no_dns01_record_is_published(tmp_path):
    result = run_demo("--act", "4", "--no-dns-publish", cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "no certificate by DNS-01: the CA said dns: no TXT record at the _acme-challenge name" in output


@pytest.mark.timeout(90)
def test_act_5_fails_when_no_persist_record_is_published(tmp_path):
    result = run_demo("--act", "5", "--no-dns-publish", cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "the first certificate by DNS-PERSIST-01 failed: the CA said dns: no TXT record" in output
