"""The server's HTTP: MIME types, cache headers, byte ranges, CORS, path traversal, faults."""

from __future__ import annotations

import http.client

import httpx
import pytest

pytestmark = [pytest.mark.loopback, pytest.mark.timeout(90)]


def raw_get(port: int, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    """A GET with the path exactly as given (http.client does not remove dot segments)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_playlists_and_segments_have_their_mime_types_and_cache_headers(server):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        master = client.get("/vod/master.m3u8")
        segment = client.get("/vod/v0/seg_00000.ts")
        mpd = client.get("/vod/dash.mpd")
    assert master.status_code == 200 and master.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert master.headers["cache-control"] == "max-age=1"
    assert segment.headers["content-type"] == "video/mp2t"
    assert segment.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert segment.content[0] == 0x47  # an MPEG-TS packet starts with the sync byte 0x47
    assert mpd.headers["content-type"] == "application/dash+xml"


def test_a_range_request_gets_206_and_just_those_bytes(server, vod):
    whole = (vod / "v1" / "seg_00002.ts").read_bytes()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        part = client.get("/vod/v1/seg_00002.ts", headers={"Range": "bytes=188-375"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 188-375/{len(whole)}"
    assert part.content == whole[188:376]


def test_cors_lets_another_origin_read_segments_and_their_ranges(server):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        answer = client.get("/vod/master.m3u8", headers={"Origin": "http://page.example"})
        preflight = client.options("/vod/v0/seg_00000.ts", headers={
            "Origin": "http://page.example", "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "range"})
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "Content-Range" in answer.headers["access-control-expose-headers"]
    assert preflight.status_code == 200
    assert "range" in preflight.headers["access-control-allow-headers"].lower()


@pytest.mark.parametrize("path", ["/vod/../../../etc/passwd", "/vod/v0/../../../etc/passwd",
                                  "/vod/%2e%2e/%2e%2e/etc/passwd", "/vod//etc/passwd", "/vod/v0/..%2f..%2fx"])
def test_path_traversal_is_refused_and_the_server_keeps_serving(server, path):
    response = raw_get(server.port, path)
    assert response.status in (400, 404), path
    assert raw_get(server.port, "/vod/master.m3u8").status == 200


def test_a_missing_segment_answers_404_as_often_as_told(server):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        client.post("/_faults", json={"missing": {"vod/v0/seg_00001.ts": 2}}).raise_for_status()
        codes = [client.get("/vod/v0/seg_00001.ts").status_code for _ in range(3)]
        unknown = client.get("/vod/v0/seg_99999.ts").status_code
    assert codes == [404, 404, 200] and unknown == 404


def test_bad_fault_requests_get_400_and_the_server_keeps_serving(server):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.post("/_faults", content=b"{not json").status_code == 400
        assert client.post("/_faults", json=[1, 2]).status_code == 400
        assert client.post("/_faults", json={"rate_bps": "fast"}).status_code == 400
        assert client.post("/_faults", json={"delay": {"vod/v0/seg_00000.ts": ["soon"]}}).status_code == 400
        assert client.post("/_faults", json={"delay": [3]}).status_code == 400
        assert client.get("/vod/master.m3u8").status_code == 200
