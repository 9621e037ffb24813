"""The fast path answers exactly as the readable app does (``fast_path.py``).

Differential: one server with the fast path (the default) and one with
``--readable`` (every request through ``app.py``) get the same raw requests:
plain, HEAD, with Origin, with a cookie, ranges (206, suffix, 416), 404s,
refused paths, a preflight, a bad fault request.  Status, headers (all but
``date``) and body must be identical.  Then, in process, that the fast path
really answers without the app, and steps aside when it must.
"""

from __future__ import annotations

import asyncio
import http.client
import sys

import httpx
import pytest

from learn_streaming.app import Faults, create_app
from learn_streaming.fast_path import FastPath
from wirelab_common.processes import start_server
from wirelab_common.wiretrace import Trace

pytestmark = [pytest.mark.loopback, pytest.mark.timeout(90)]

SEGMENT = "/vod/v2/seg_00003.ts"
REQUESTS = [
    ("GET", "/vod/master.m3u8", {}),
    ("GET", "/vod/master.m3u8?x=1", {}),
    ("GET", SEGMENT, {}),
    ("HEAD", "/vod/v0/seg_00000.ts", {}),
    ("GET", "/vod/v1/index.m3u8", {"Origin": "http://page.example"}),
    ("GET", SEGMENT, {"Origin": "http://page.example"}),
    ("GET", SEGMENT, {"Origin": "http://page.example", "Cookie": "a=b"}),
    ("GET", SEGMENT, {"If-None-Match": '"x"', "Accept-Encoding": "gzip"}),
    ("GET", "/vod/v1/seg_00002.ts", {"Range": "bytes=188-375"}),
    ("GET", "/vod/v1/seg_00002.ts", {"Range": "bytes=-100", "Origin": "http://page.example"}),
    ("GET", "/vod/v1/seg_00002.ts", {"Range": "bytes=999999999-"}),
    ("GET", "/vod/dash.mpd", {}),
    ("GET", "/vod/dash/init-0.m4s", {}),
    ("GET", "/vod/v0/seg_99999.ts", {}),
    ("GET", "/vod/../../etc/passwd", {}),
    ("GET", "/vod/%2e%2e/%2e%2e/etc/passwd", {}),
    ("GET", "/vod//v0/seg_00000.ts", {}),
    ("GET", "/live/master.m3u8", {}),
    ("POST", SEGMENT, {}),
    ("OPTIONS", SEGMENT, {"Origin": "http://page.example", "Access-Control-Request-Method": "GET",
                          "Access-Control-Request-Headers": "range"}),
    ("POST", "/_faults", {"Content-Type": "application/json"}),  # no body: 400
]


def raw(port: int, method: str, path: str, headers: dict[str, str]) -> tuple[int, list, bytes]:
    """(status, headers but date, body).  Starlette lists a 405's ``allow`` methods from a set, in an
    order that changes per process (hash seed): compared as a set."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    answer = [(k.lower(), v) for k, v in response.getheaders() if k.lower() != "date"]
    answer = [(k, ", ".join(sorted(v.split(", "))) if k == "allow" else v) for k, v in answer]
    return response.status, answer, body


@pytest.fixture
def readable(vod):
    with start_server([sys.executable, "-m", "learn_streaming.server", "--port", "0", "-q", "--readable"],
                      name="readable", timeout=60) as proc:
        yield proc


def test_the_fast_server_and_the_readable_one_answer_byte_for_byte_alike(server, readable):
    for method, path, headers in REQUESTS:
        fast, slow = raw(server.port, method, path, headers), raw(readable.port, method, path, headers)
        assert fast == slow, (method, path, headers)
    statuses = {raw(server.port, m, p, h)[0] for m, p, h in REQUESTS}
    assert {200, 206, 400, 404, 405, 416} <= statuses  # the list covers every kind of answer


def test_faults_still_apply_with_the_fast_path(server):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get(SEGMENT).status_code == 200
        client.post("/_faults", json={"missing": {SEGMENT[1:]: 1}}).raise_for_status()
        assert [client.get(SEGMENT).status_code for _ in range(2)] == [404, 200]


def test_the_fast_path_answers_without_the_app_and_steps_aside_when_it_must(vod):
    calls: list[str] = []
    app = create_app({"vod": vod}, Trace("app", quiet=True), faults := Faults())

    async def counting(scope, receive, send):
        calls.append(scope["path"])
        await app(scope, receive, send)

    async def run() -> None:
        fast = FastPath(counting, "vod", vod, faults, Trace("server", quiet=True))
        assert await fast.record() > 3 * 16
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fast), base_url="http://t") as client:
            whole = await client.get(SEGMENT)
            assert whole.status_code == 200 and whole.content == (vod / SEGMENT[5:]).read_bytes()
            assert calls == []  # from memory
            assert (await client.get(SEGMENT, headers={"Range": "bytes=0-187"})).status_code == 206
            assert (await client.get("/vod/v0/seg_99999.ts")).status_code == 404
            faults.rate_bps = 1_000_000
            assert (await client.get(SEGMENT)).status_code == 200
        assert calls == [SEGMENT, "/vod/v0/seg_99999.ts", SEGMENT]  # range, unknown, shaped: the app's

    asyncio.run(run())


def test_the_protocol_answers_before_any_asgi_call_and_hands_the_rest_to_uvicorn(vod):
    import uvicorn

    from learn_streaming.fast_path import FastHttpProtocol
    from wirelab_common.ports import free_port

    calls: list[str] = []
    app = create_app({"vod": vod}, Trace("app", quiet=True), faults := Faults())

    class Counted(FastPath):
        async def __call__(self, scope, receive, send):
            if scope["type"] == "http":
                calls.append(scope["path"])
            await super().__call__(scope, receive, send)

    async def run() -> None:
        fast = Counted(app, "vod", vod, faults, Trace("server", quiet=True))
        await fast.record()
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(fast, "127.0.0.1", port, http=FastHttpProtocol.factory(fast),
                                               log_config=None, lifespan="off"))
        task = asyncio.create_task(server.serve())
        try:
            while not server.started:
                await asyncio.sleep(0.05)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                for _ in range(3):  # one keep-alive connection: each answered by the protocol
                    whole = await client.get(SEGMENT)
                    assert whole.status_code == 200 and whole.content == (vod / SEGMENT[5:]).read_bytes()
                    assert whole.headers["server"] == "uvicorn" and "date" in whole.headers
                assert calls == []
                assert (await client.get(SEGMENT, headers={"Range": "bytes=0-187"})).status_code == 206
                assert (await client.get(SEGMENT)).status_code == 200  # and the connection goes on
            assert calls == [SEGMENT]  # only the range reached ASGI
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, 10)

    asyncio.run(run())
