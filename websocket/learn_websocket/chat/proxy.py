"""Render the nginx configuration for the scale-out setup, and the command to run it.

Reading order: after ``server.py``; this is the front door of the scale-out::

    browser / ChatClient --> nginx 127.0.0.1:P --round robin--> chat s1 --+
                                                           +-> chat s2 --+--> Redis pub/sub

The template is ``learn_websocket/nginx/nginx.conf.template``; the WebSocket-specific
part (RFC 6455 §4.1: the ``Upgrade``/``Connection`` headers a proxy must pass on) is
explained there.  Used by the scale-out test and demo::

    setup = render_nginx_config([("127.0.0.1", p1), ("127.0.0.1", p2)])
    procs.start(setup.argv, name="nginx", ready_port=setup.port)

Running as root: nginx's master process then starts its workers as ``nobody``.
A ``tempfile.mkdtemp()`` directory is mode 0700, so a worker could not reach the
temp directories inside it: a request body larger than 16 KiB, which nginx buffers
to a file, then fails with "13: Permission denied" and HTTP 500.  We make the
prefix directory world-readable (0755: it holds nothing secret); nginx itself
creates the temp directories and gives them to the worker user.
"""

from __future__ import annotations

import argparse
import grp
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from wirelab_common.errors import SetupError
from wirelab_common.ports import free_port

TEMPLATE = resources.files("learn_websocket") / "nginx" / "nginx.conf.template"
NGINX_HINT = "install it (Debian: `apt-get install nginx-light`)"


@dataclass
class NginxSetup:
    """A rendered configuration: where it is, where nginx will listen, how to start it."""

    prefix: Path
    conf_path: Path
    port: int
    argv: list[str]

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def ws_url(self, path: str = "/ws") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def remove(self) -> None:
        """Delete the prefix directory (after nginx has stopped)."""
        shutil.rmtree(self.prefix, ignore_errors=True)


def worker_user_directive() -> str:
    """``user nobody nogroup;`` as root (Debian names the group nogroup), nothing otherwise.

    Only a root master can switch users; without the directive nginx would pick
    ``nobody`` and a group of the same name, which Debian does not have.
    """
    if os.geteuid() != 0:
        return ""
    try:
        grp.getgrnam("nogroup")
        group = "nogroup"
    except KeyError:
        group = "nobody"
    return f"user nobody {group};"


def fill_template(root: Path, port: int, upstreams: Sequence[tuple[str, int]]) -> str:
    values = {
        "prefix": str(root),
        "port": str(port),
        "upstream_servers": "\n".join(f"        server {host}:{p};" for host, p in upstreams),
        "user_directive": worker_user_directive(),
    }
    text = TEMPLATE.read_text()
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    if "{{" in text:
        raise ValueError(f"unfilled placeholder in {TEMPLATE}: {text[text.index('{{'):][:40]}")
    return text


def render_nginx_config(upstreams: Sequence[tuple[str, int]], *, port: int | None = None,
                        prefix: str | Path | None = None, nginx: str | None = None) -> NginxSetup:
    """Write ``nginx.conf`` for ``upstreams`` into ``prefix`` (default: a new temp dir)."""
    binary = nginx or shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if binary is None:
        raise SetupError("nginx not found", NGINX_HINT)
    if not upstreams:
        raise ValueError("nginx needs at least one upstream chat server")
    port = port or free_port()
    root = Path(prefix) if prefix else Path(tempfile.mkdtemp(prefix="wirelab-nginx-"))
    try:
        text = fill_template(root, port, upstreams)
    except Exception:
        if prefix is None:
            shutil.rmtree(root, ignore_errors=True)  # our temp dir: leave nothing behind
        raise
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    os.chmod(root / "tmp", 0o755)
    conf = root / "nginx.conf"
    conf.write_text(text)
    argv = [binary, "-p", str(root), "-c", str(conf), "-g", "daemon off;"]
    return NginxSetup(root, conf, port, argv)


def main(argv: list[str] | None = None) -> None:
    """Render and replace this process with nginx (for running the scale-out by hand)."""
    parser = argparse.ArgumentParser(prog="python -m learn_websocket.chat.proxy")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--upstream", action="append", required=True, metavar="HOST:PORT")
    args = parser.parse_args(argv)
    upstreams = [(h, int(p)) for h, _, p in (u.rpartition(":") for u in args.upstream)]
    setup = render_nginx_config(upstreams, port=args.port)
    print(f"= nginx    config {setup.conf_path}\n= nginx    listening on {setup.url()}", flush=True)
    os.execv(setup.argv[0], setup.argv)


if __name__ == "__main__":
    main()
