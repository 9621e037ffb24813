"""nginx as the reference proxy: the same routing and rewrites, from ``nginx/proxy.conf.template``.

Reading order: after server; the same job done by nginx, for the differential tests and the benchmark.

:func:`render` fills the template for two upstreams; the caller starts
``setup.argv`` and waits for the port (nginx prints no ready line)::

    setup = render(main=("127.0.0.1", 8001), blog=("127.0.0.1", 8002))
    start_process(setup.argv, name="nginx", ready_port=setup.port)
    ...
    setup.remove()        # after nginx has stopped

``python -m learn_proxy.nginx_ref --main HOST:PORT --blog HOST:PORT`` renders
the config and replaces itself with nginx, to compare the two by hand with curl.
"""

from __future__ import annotations

import argparse
import os
from importlib import resources
from pathlib import Path

from wirelab_common.nginx_proxy import NginxSetup, render_nginx_config
from wirelab_common.server_cli import add_server_options

from .static_server import OWN_ORIGIN

TEMPLATE = resources.files("learn_proxy") / "nginx" / "proxy.conf.template"


def render(
    main: tuple[str, int],
    blog: tuple[str, int],
    *,
    port: int | None = None,
    host: str = "127.0.0.1",
    read_timeout: float = 10.0,
    prefix: str | Path | None = None,
    nginx: str | None = None,
) -> NginxSetup:
    return render_nginx_config(
        TEMPLATE,
        port=port,
        prefix=prefix,
        nginx=nginx,
        host=host,
        main=f"{main[0]}:{main[1]}",
        blog=f"{blog[0]}:{blog[1]}",
        blog_origin=OWN_ORIGIN,
        blog_host=OWN_ORIGIN.split("://", 1)[1],
        read_timeout=f"{read_timeout:g}s",
    )


def address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m learn_proxy.nginx_ref", description="nginx as the reference."
    )
    add_server_options(parser, port=8080, loop=False)
    parser.add_argument("--main", type=address, required=True, metavar="HOST:PORT", help="the main site")
    parser.add_argument("--blog", type=address, required=True, metavar="HOST:PORT", help="the blog server")
    parser.add_argument("--read-timeout", type=float, default=10.0, help="proxy_read_timeout in seconds")
    args = parser.parse_args(argv)
    setup = render(args.main, args.blog, port=args.port, host=args.host, read_timeout=args.read_timeout)
    # nginx says nothing once it listens, so this is no ready line: wait for the port.
    print(f"= nginx    config {setup.conf_path}\n= nginx    starting: serves {setup.url()}", flush=True)
    os.execv(setup.argv[0], setup.argv)


if __name__ == "__main__":
    main()
