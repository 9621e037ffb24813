"""Peers nobody here wrote, through the tunnel: headless Chromium loading a page with assets, and wrk."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.conftest import need_binary

pytestmark = pytest.mark.differential


def test_chromium_loads_the_page_its_stylesheet_and_its_script_through_the_tunnel(tunnel, chromium_page):
    page = chromium_page
    seen: list[str] = []
    page.on("response", lambda response: seen.append(f"{response.status} {response.url}"))
    page.goto(f"{tunnel.public}/", timeout=15_000)  # Chromium resolves *.localhost to loopback itself
    page.wait_for_function("document.getElementById('status').textContent === 'script ran'", timeout=15_000)
    color = page.evaluate("getComputedStyle(document.querySelector('h1')).color")
    assert color == "rgb(0, 128, 0)"  # the stylesheet came through the tunnel too
    assert f"200 {tunnel.public}/static/style.css" in seen and f"200 {tunnel.public}/static/app.js" in seen


def test_the_path_form_serves_the_same_page_with_relative_assets(tunnel, chromium_page):
    page = chromium_page
    page.goto(f"{tunnel.by_path}/", timeout=15_000)
    page.wait_for_function("document.getElementById('status').textContent === 'script ran'", timeout=15_000)


def test_wrk_through_the_tunnel_gets_only_good_answers(tunnel):
    wrk = need_binary("wrk", "wrk")
    result = subprocess.run([wrk, "-t1", "-c8", "-d2s", "-H", f"Host: demo.localhost:{tunnel.relay.port}",
                             f"http://127.0.0.1:{tunnel.relay.port}/headers"], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    requests = int(re.search(r"(\d+) requests in", result.stdout).group(1))
    assert requests > 0
    assert "Non-2xx" not in result.stdout and "Socket errors" not in result.stdout, result.stdout
