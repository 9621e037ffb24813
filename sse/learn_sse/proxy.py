"""nginx in front of the SSE server: the buffering pitfall, and its two cures.

Reading order: last, after the page::

    client --> nginx 127.0.0.1:P --> learn_sse.server 127.0.0.1:U

Two configurations, differing in one directive (the templates explain it in full):

- ``buffered.conf.template``: ``proxy_buffering on`` (nginx's default) and gzip for
  text types, ``text/event-stream`` included (a common global setting).  If the
  server does *not* send ``X-Accel-Buffering: no`` (``--no-accel-header``), a client
  that accepts gzip (every browser) gets the events in lumps: when nginx's gzip
  buffers fill, or when the response ends.  curl, which asks for no gzip, sees them
  live: that is how the bug survives a quick check.
- ``unbuffered.conf.template``: the same with ``proxy_buffering off``: events arrive
  live, gzip or not.

The header alone also cures the buffered config: nginx turns buffering off for any
response that carries ``X-Accel-Buffering: no``.  Nothing about this is in the SSE
spec; WHATWG HTML §9.2.7 "Authoring notes" only warns that proxies may drop idle
connections, hence the heartbeat comments.

Rendering and running nginx is shared by every pattern (``wirelab_common.nginx_proxy``)::

    setup = render_sse_proxy(("127.0.0.1", 8000), buffered=True)
    procs.start(setup.argv, name="nginx", ready_port=setup.port)
    ... setup.url("/events") ...
    setup.remove()    # after nginx has stopped
"""

from __future__ import annotations

import argparse
import os
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from wirelab_common.nginx_proxy import NginxSetup, render_nginx_config

TEMPLATES = resources.files("learn_sse") / "nginx"


def template_for(buffered: bool) -> Traversable:
    return TEMPLATES / ("buffered.conf.template" if buffered else "unbuffered.conf.template")


def render_sse_proxy(upstream: tuple[str, int], *, buffered: bool, port: int | None = None,
                     prefix: str | Path | None = None, nginx: str | None = None) -> NginxSetup:
    """A config that proxies everything to ``upstream`` (one SSE server), buffered or not."""
    host, upstream_port = upstream
    return render_nginx_config(template_for(buffered), port=port, prefix=prefix, nginx=nginx,
                               upstream=f"{host}:{upstream_port}")


def main(argv: list[str] | None = None) -> None:
    """Render and replace this process with nginx (to try the pitfall by hand with curl)."""
    parser = argparse.ArgumentParser(prog="python -m learn_sse.proxy")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--upstream", required=True, metavar="HOST:PORT", help="the SSE server")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--buffered", action="store_true", help="proxy_buffering on (the pitfall)")
    mode.add_argument("--unbuffered", action="store_true", help="proxy_buffering off (the fix)")
    args = parser.parse_args(argv)
    host, _, port = args.upstream.rpartition(":")
    setup = render_sse_proxy((host or "127.0.0.1", int(port)), buffered=args.buffered, port=args.port)
    mode_name = "buffered" if args.buffered else "unbuffered"
    # nginx itself says nothing once it listens, so this is no ready line: wait for the port.
    print(f"= nginx    config {setup.conf_path} ({mode_name})\n= nginx    starting: serves {setup.url()}",
          flush=True)
    os.execv(setup.argv[0], setup.argv)


if __name__ == "__main__":
    main()
