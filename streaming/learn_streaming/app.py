"""The HTTP side of HLS: playlists and segments as files, with the headers players depend on.

Reading order: playlists -> abr -> buffer -> packager -> **app** -> server -> player -> probe -> demo.

HLS needs nothing but a file server, but the headers matter:

- **MIME types** (RFC 8216 §4: ``application/vnd.apple.mpegurl`` for a
  playlist; ``video/mp2t`` for a TS segment; ``application/dash+xml`` and
  ``video/iso.segment`` for the DASH side);
- **caching**: a segment never changes once written, so it is
  ``immutable`` for a year; a playlist changes under a live stream every
  segment, so caches may keep it one second at most;
- **byte ranges** (RFC 9110 §14): every answer says ``Accept-Ranges: bytes``,
  and a request with ``Range`` goes to Starlette's ``FileResponse``, which
  answers 206 with those bytes (what ``EXT-X-BYTERANGE`` playlists need);
- **CORS**: a page on another origin (hls.js in a browser) fetches with
  ``fetch()``, so every answer says ``Access-Control-Allow-Origin: *`` and
  exposes ``Content-Length``/``Content-Range``;
- **no path traversal**: ``/vod/../../etc/passwd`` must not leave the media root.

:class:`Faults` is the demo's and the tests' lever on the server (a real
deployment would not have it; this server always does): a shaped rate for
segment bodies, segments that answer 404 (a given number of times) or
arrive late (a given delay for each of their next requests), and a live
encoder that can be paused.  It is set with
``POST /_faults`` (a JSON object; anything else is answered 400).
"""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from wirelab_common.wiretrace import Trace

MIME = {".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t", ".mpd": "application/dash+xml",
        ".m4s": "video/iso.segment", ".mp4": "video/mp4"}
PLAYLIST_CACHE = "max-age=1"  # a live playlist changes every segment
SEGMENT_CACHE = "public, max-age=31536000, immutable"  # a segment never changes once written
CHUNK = 8 * 1024  # the unit of a shaped body


@dataclass
class Faults:
    rate_bps: int | None = None  # shape segment bodies to this many bit/s (None: full speed)
    missing: dict[str, int] = field(default_factory=dict)  # path -> how many more requests answer 404
    # path -> seconds before the first byte, one entry for each of its next requests
    delay: dict[str, list[float]] = field(default_factory=dict)
    encoder_pid: int | None = None  # the live ffmpeg, paused with SIGSTOP for a stalled encoder
    encoder_paused: bool = False


def create_app(roots: dict[str, Path], trace: Trace, faults: Faults | None = None) -> Starlette:
    """``roots`` maps a URL prefix (``vod``, ``live``) to the directory served under it."""
    faults = faults or Faults()

    async def media(request: Request) -> Response:
        prefix, rest = request.path_params["prefix"], request.path_params["rest"]
        trace.received(f"GET /{prefix}/{rest}", [f"{k}: {v}" for k, v in request.headers.items()],
                       peer=request.client.host if request.client else None)
        root = roots.get(prefix)
        parts = rest.split("/")
        # Refuse any dot segment or empty segment before touching the disk: the URL alone decides.
        if root is None or any(p in ("", ".", "..") or "\\" in p for p in parts):
            return _refuse(trace, 404 if root is None else 400, f"/{prefix}/{rest}")
        path = (root / rest).resolve()
        if not path.is_relative_to(root.resolve()):  # a symlink pointing out is refused too
            return _refuse(trace, 400, f"/{prefix}/{rest}")
        key = f"{prefix}/{rest}"
        if faults.missing.get(key):
            faults.missing[key] -= 1
            return _refuse(trace, 404, f"/{key} (fault: {faults.missing[key]} more 404s)")
        if not path.is_file():
            return _refuse(trace, 404, f"/{key}")
        if faults.delay.get(key):
            await asyncio.sleep(faults.delay[key].pop(0))
        suffix = path.suffix
        cache = PLAYLIST_CACHE if suffix in (".m3u8", ".mpd") else SEGMENT_CACHE
        headers = {"Cache-Control": cache}
        if faults.rate_bps and suffix in (".ts", ".m4s") and "range" not in request.headers:
            headers["Content-Length"] = str(path.stat().st_size)
            response: Response = StreamingResponse(_shaped(path, faults), media_type=MIME.get(suffix),
                                                   headers=headers)
        elif "range" in request.headers:  # Starlette does ranges (206, multipart, 416) right
            response = FileResponse(path, media_type=MIME.get(suffix), headers=headers)
        else:
            # Playlists and segments are small: one read in the loop serves about 3x the requests
            # of FileResponse, whose stat, open and reads each hop to a worker thread (bench_streaming.py).
            headers["Accept-Ranges"] = "bytes"
            response = Response(path.read_bytes(), media_type=MIME.get(suffix), headers=headers)
        trace.sent(f"200 /{key} {path.stat().st_size} bytes", [f"Cache-Control: {cache}"])
        return response

    async def set_faults(request: Request) -> Response:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("a JSON object")
            return apply_faults(body)
        except (ValueError, TypeError) as exc:  # bad input: say so, and keep serving
            trace.state(f"faults refused: {exc}")
            return PlainTextResponse(f"bad faults: {exc}\n", status_code=400)

    def apply_faults(body: dict) -> Response:
        if body.get("rate_bps") is not None and not isinstance(body["rate_bps"], int):
            raise ValueError("rate_bps is an integer (bit/s) or null")
        if "rate_bps" in body:
            faults.rate_bps = body["rate_bps"]
        faults.missing.update(body.get("missing", {}))
        if not isinstance(body.get("delay", {}), dict):
            raise ValueError("delay maps a path to seconds")
        for key, seconds in body.get("delay", {}).items():  # a number: once; a list: one per request
            seconds = seconds if isinstance(seconds, list) else [seconds]
            if not all(isinstance(s, int | float) and 0 <= s <= 60 for s in seconds):
                raise ValueError("a delay is seconds (0-60) or a list of them")
            faults.delay[key] = [float(s) for s in seconds]
        if "encoder_paused" in body and faults.encoder_pid:
            faults.encoder_paused = bool(body["encoder_paused"])
            os.kill(faults.encoder_pid, signal.SIGSTOP if faults.encoder_paused else signal.SIGCONT)
        trace.state(f"faults: rate {faults.rate_bps or 'full'} bit/s, missing {faults.missing}, "
                    f"delay {faults.delay}, encoder {'paused' if faults.encoder_paused else 'running'}")
        return JSONResponse({"rate_bps": faults.rate_bps, "missing": faults.missing})

    routes = [Route("/_faults", set_faults, methods=["POST"]),
              Route("/{prefix}/{rest:path}", media, methods=["GET", "HEAD"])]
    cors = Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "HEAD"],
                      allow_headers=["Range"],
                      expose_headers=["Content-Length", "Content-Range", "Accept-Ranges"])
    app = Starlette(routes=routes, middleware=[cors])
    app.state.faults = faults
    return app


def _refuse(trace: Trace, status: int, what: str) -> Response:
    trace.sent(f"{status} {what}")
    return PlainTextResponse("bad path\n" if status == 400 else "not found\n", status_code=status,
                             headers={"Cache-Control": "no-store"})


async def _shaped(path: Path, faults: Faults):
    """The file in CHUNK pieces, each followed by the pause that keeps the body at ``rate_bps``."""
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            yield chunk
            if faults.rate_bps:
                await asyncio.sleep(len(chunk) * 8 / faults.rate_bps)
