"""nginx in front of the chat servers: the front door of the scale-out.

Reading order: after ``server.py``::

    browser / ChatClient --> nginx 127.0.0.1:P --round robin--> chat s1 --+
                                                           +-> chat s2 --+--> Redis pub/sub

The configuration is ``learn_websocket/nginx/nginx.conf.template``; the
WebSocket-specific part (RFC 6455 §4.1: the ``Upgrade``/``Connection`` headers a
proxy must pass on) is explained there.  Rendering and running nginx is shared
by every pattern (``wirelab_common.nginx_proxy``).  Used by the scale-out test
and the demo::

    setup = render_chat_proxy([("127.0.0.1", p1), ("127.0.0.1", p2)])
    procs.start(setup.argv, name="nginx", ready_port=setup.port)
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from wirelab_common.nginx_proxy import NginxSetup, render_nginx_config

TEMPLATE = resources.files("learn_websocket") / "nginx" / "nginx.conf.template"


def render_chat_proxy(upstreams: Sequence[tuple[str, int]], *, port: int | None = None,
                      prefix: str | Path | None = None, nginx: str | None = None) -> NginxSetup:
    """A config that balances ``upstreams`` (the chat servers) round robin."""
    if not upstreams:
        raise ValueError("nginx needs at least one upstream chat server")
    servers = "\n".join(f"        server {host}:{p};" for host, p in upstreams)
    return render_nginx_config(TEMPLATE, port=port, prefix=prefix, nginx=nginx, upstream_servers=servers)


def main(argv: list[str] | None = None) -> None:
    """Render and replace this process with nginx (for running the scale-out by hand)."""
    parser = argparse.ArgumentParser(prog="python -m learn_websocket.chat.proxy")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--upstream", action="append", required=True, metavar="HOST:PORT")
    args = parser.parse_args(argv)
    upstreams = [(h, int(p)) for h, _, p in (u.rpartition(":") for u in args.upstream)]
    setup = render_chat_proxy(upstreams, port=args.port)
    # nginx itself says nothing once it listens, so this is no ready line: wait for the port.
    print(f"= nginx    config {setup.conf_path}\n= nginx    starting: serves {setup.url()}", flush=True)
    os.execv(setup.argv[0], setup.argv)


if __name__ == "__main__":
    main()
