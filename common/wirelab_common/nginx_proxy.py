"""Run a real nginx in front of our servers, from a pattern's config template.

Patterns put nginx in front of their servers to show what a reverse proxy does
to their protocol (the WebSocket Upgrade, SSE buffering, ...).  Each pattern
keeps its own ``*.conf.template``; this module fills in the parts every one
needs and says how to start it::

    setup = render_nginx_config(TEMPLATE, upstream_servers="server 127.0.0.1:8001;")
    start_process(setup.argv, name="nginx", ready_port=setup.port)
    ...
    setup.remove()        # after nginx has stopped

Placeholders in double braces: ``{{prefix}}`` (a private directory for the pid
file, logs and temp files), ``{{port}}`` (a free port unless given),
``{{user_directive}}``, and any keyword given to :func:`render_nginx_config`.

Running as root: nginx's master process then starts its workers as ``nobody``.
A ``tempfile.mkdtemp()`` directory is mode 0700, so a worker could not reach the
temp directories inside it: a request body larger than 16 KiB, which nginx buffers
to a file, then fails with "13: Permission denied" and HTTP 500.  We make the
prefix directory world-readable (0755: it holds nothing secret); nginx itself
creates the temp directories and gives them to the worker user.
"""

from __future__ import annotations

import grp
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

from .errors import SetupError
from .ports import free_port

NGINX_HINT = "install it (Debian: `apt-get install nginx-light`) or run `make system-deps`"


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


def find_nginx() -> str:
    """The nginx binary, or SetupError saying how to get one.

    ``$NGINX`` names it explicitly; otherwise PATH, then /usr/sbin (where Debian
    installs it, not always on a user's PATH).
    """
    if os.environ.get("NGINX"):
        binary = shutil.which(os.environ["NGINX"])
        if binary is None:
            raise SetupError(f"nginx not found at NGINX={os.environ['NGINX']}", NGINX_HINT)
        return binary
    binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if binary is None:
        raise SetupError("nginx not found", NGINX_HINT)
    return binary


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


def fill_template(template: str, values: dict[str, str]) -> str:
    text = template
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    if "{{" in text:
        raise ValueError(f"unfilled placeholder in nginx template: {text[text.index('{{'):][:40]}")
    return text


def render_nginx_config(template: Traversable | Path, *, port: int | None = None,
                        prefix: str | Path | None = None, nginx: str | None = None,
                        **values: str) -> NginxSetup:
    """Write ``nginx.conf`` from ``template`` into ``prefix`` (default: a new temp dir)."""
    binary = nginx or find_nginx()
    port = port or free_port()
    root = Path(prefix) if prefix else Path(tempfile.mkdtemp(prefix="wirelab-nginx-"))
    try:
        text = fill_template(template.read_text(), {
            "prefix": str(root), "port": str(port), "user_directive": worker_user_directive(), **values})
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
