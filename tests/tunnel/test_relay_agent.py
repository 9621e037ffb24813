"""The tunnel end to end on loopback: curl at the public port, a real FastAPI app behind the agent."""

from __future__ import annotations

import asyncio
import hashlib
import signal
import subprocess

import httpx
import pytest

from learn_tunnel.app import pattern_bytes
from tests.conftest import need_binary
from tests.tunnel.conftest import TOKEN
from wirelab_common.waiting import eventually

pytestmark = pytest.mark.loopback


def curl(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    need_binary("curl", "curl")
    return subprocess.run(["curl", "-sS", *args], capture_output=True, text=True, timeout=timeout)


def status_and_body(*args: str) -> tuple[int, str]:
    result = curl("-w", "\n%{http_code}", *args)
    body, _, code = result.stdout.rpartition("\n")
    return int(code), body.strip()


def test_curl_reaches_the_app_by_host_name_and_by_path(tunnel):
    code, body = status_and_body(f"{tunnel.public}/headers")  # curl resolves *.localhost itself
    assert code == 200 and '"x-forwarded-for":"127.0.0.1"' in body
    assert f'"host":"demo.localhost:{tunnel.relay.port}"' in body
    code, body = status_and_body(f"http://127.0.0.1:{tunnel.relay.port}/t/demo/static/style.css")
    assert code == 200 and "rgb(0, 128, 0)" in body


def test_an_unknown_name_is_404_and_a_slow_app_is_504(tunnel):
    code, body = status_and_body(f"http://nobody.localhost:{tunnel.relay.port}/")
    assert (code, body) == (404, "no agent is connected for tunnel 'nobody'")
    code, body = status_and_body(f"{tunnel.public}/slow?seconds=5")
    assert code == 504 and "did not answer in 2 s" in body
    tunnel.agent.wait_line(r"cancelled by the relay \(CANCEL no response in 2 s\)", timeout=5)


def test_a_large_upload_and_download_arrive_intact(tunnel, tmp_path):
    upload = pattern_bytes(3_000_000)[::-1]
    (tmp_path / "up").write_bytes(upload)
    result = curl("--data-binary", f"@{tmp_path / 'up'}", "-H", "content-type: application/octet-stream",
                  f"{tunnel.public}/upload")
    assert f'"sha256":"{hashlib.sha256(upload).hexdigest()}"' in result.stdout
    result = subprocess.run(["curl", "-sS", f"{tunnel.public}/download?size=5000000"], capture_output=True,
                            timeout=30)
    assert result.stdout == pattern_bytes(5_000_000)


def test_small_requests_pass_a_large_download_that_is_read_slowly(tunnel):
    # curl reads the big body at 200 KB/s: its stream's window fills and stays nearly full,
    # yet the small requests on the same WebSocket are answered.
    big = subprocess.Popen(["curl", "-sS", "--limit-rate", "200k", "-o", "/dev/null",
                            f"{tunnel.public}/download?size=20000000"])
    try:
        for _ in range(20):
            assert status_and_body(f"{tunnel.public}/headers")[0] == 200
        assert big.poll() is None, "the slow download should still be running"
    finally:
        big.kill()
        big.wait(5)


def test_concurrent_requests_interleave_on_the_one_connection(tunnel):
    async def many() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=10) as client:
            return await asyncio.gather(*(client.get(f"{tunnel.by_path}/slow?seconds=0.5") for _ in range(8)))
    responses = asyncio.run(many())
    assert [r.status_code for r in responses] == [200] * 8
    lines = tunnel.relay.output().splitlines()
    opened = [n for n, line in enumerate(lines) if "> relay/demo HEADERS" in line]
    answered = [n for n, line in enumerate(lines) if "< relay/demo HEADERS" in line]
    assert len(opened) >= 8 and sorted(opened)[7] < min(answered[-8:]), "all 8 open before the first answer"


def test_a_public_client_that_goes_away_cancels_the_local_request(tunnel):
    curl("--max-time", "0.5", f"{tunnel.public}/ticks?n=20&every=0.2")  # exits 28: timed out, went away
    tunnel.agent.wait_line(r"cancelled by the relay \(CANCEL the public client went away\)", timeout=5)
    eventually(lambda: httpx.get(f"{tunnel.app.url}/stats").json()["cut_off"] == 1, timeout=5,
               what="the app saw its streaming response cut off")


def test_a_second_agent_for_a_taken_name_is_refused(tunnel):
    second = tunnel.start_agent(name="demo", wait=False)
    second.wait_line(r"relay refused the tunnel: HTTP 409 the name 'demo' is taken", timeout=10)
    assert status_and_body(f"{tunnel.public}/headers")[0] == 200  # the first still serves


def test_a_wrong_token_is_refused_and_the_agent_exits_saying_why(tunnel):
    wrong = tunnel.start_agent(name="other", token=TOKEN + "x", wait=False)
    wrong.wait_line(r"the relay refused the token", timeout=10)
    assert eventually(lambda: not wrong.alive(), timeout=10, what="the agent exits")
    tunnel.relay.wait_line(r"agent refused: bad token", timeout=5)


def test_agent_killed_mid_request_gives_502_then_a_new_agent_registers(tunnel):
    slow = subprocess.Popen(["curl", "-sS", "-w", "\n%{http_code}", f"{tunnel.public}/slow?seconds=5"],
                            stdout=subprocess.PIPE, text=True)
    tunnel.agent.wait_line(r"< agent\s+HEADERS", timeout=5)
    tunnel.agent.signal(signal.SIGKILL)
    out, _ = slow.communicate(timeout=10)
    assert out.endswith("\n502") and "went away" in out
    assert status_and_body(f"{tunnel.public}/headers")[0] == 404  # unregistered
    tunnel.start_agent()
    assert status_and_body(f"{tunnel.public}/headers")[0] == 200


def test_the_agent_reconnects_with_backoff_after_a_relay_restart(tunnel):
    port, agent_port = tunnel.relay.port, tunnel.agent_port
    tunnel.relay.stop()
    tunnel.agent.wait_line(r"reconnecting in \d+\.\d\d s \(retry 2\)", timeout=10)  # failing, backing off
    tunnel.start_relay("--response-timeout", "2", port=port, agent_port=agent_port)
    tunnel.agent.wait_line(r"registered as demo", start=2, timeout=20)
    assert status_and_body(f"{tunnel.public}/headers")[0] == 200
