"""The streaming server process: on-demand renditions under /vod/, and a live stream under /live/.

Reading order: playlists -> abr -> buffer -> packager -> app -> **server** -> player -> probe -> demo.

``python -m learn_streaming.server --port 0`` packages the on-demand source
(``packager.package_vod``, cached) and serves it at ``/vod/master.m3u8``.
With ``--live`` it also starts ffmpeg with ``-re`` writing a sliding-window
playlist (``-hls_list_size``, ``delete_segments``) into a temporary directory
served at ``/live/master.m3u8``: ``EXT-X-MEDIA-SEQUENCE`` advances by one per
segment and the segments that fall out of the window are deleted (404).

The on-demand files are answered from memory by ``fast_path.FastPath``,
recorded from the app at start-up; ``--readable`` serves every request with
the app alone (``app.py``, the lesson), as fast_path's differential test does.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from wirelab_common.asgi_server import TracedServer, config, run_server
from wirelab_common.server_cli import add_server_options
from wirelab_common.wiretrace import Trace

from .app import Faults, create_app
from .fast_path import FastHttpProtocol, FastPath
from .packager import RENDITIONS, has_drawtext, hls_command, package_vod


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_streaming.server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_options(parser, port=8090)
    parser.add_argument("--seconds", type=int, default=16, help="length of the on-demand source")
    parser.add_argument("--live", action="store_true", help="also run a live encoder (ffmpeg -re)")
    parser.add_argument("--window", type=int, default=5, help="segments in the live playlist's window")
    parser.add_argument("--readable", action="store_true",
                        help="no fast path: every request through app.py (slower, the same answers)")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    trace = Trace("server", verbose=args.verbose, quiet=args.quiet)
    with contextlib.ExitStack() as stack:
        roots = {"vod": package_vod(args.seconds)}
        faults = Faults()
        if args.live:
            live = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="learn-streaming-live-")))
            for i in range(len(RENDITIONS)):
                (live / f"v{i}").mkdir()
            argv = hls_command(live, 3600, burn_in=has_drawtext(), live=True, list_size=args.window)
            encoder = subprocess.Popen(argv)
            stack.callback(_stop, encoder)
            roots["live"] = live
            faults.encoder_pid = encoder.pid
            trace.state(f"live encoder: ffmpeg pid {encoder.pid}, window {args.window} segments")
        app = create_app(roots, trace, faults)
        options: dict[str, Any] = {}
        if not args.readable:
            app = FastPath(app, "vod", roots["vod"], faults, trace)
            await app.record()
            options["http"] = FastHttpProtocol.factory(app)

        def describe(host: str, port: int) -> list[str]:
            return [f"{name}: http://{host}:{port}/{name}/master.m3u8 ({path})"
                    for name, path in roots.items()]

        await TracedServer(config(app, args.host, args.port, **options), trace, describe).serve()


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGCONT)  # a paused encoder must wake to die
    process.terminate()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run_server(lambda: serve(args), args.loop)


if __name__ == "__main__":
    main()
