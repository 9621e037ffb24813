"""HTTP over a Unix socket, the everyday way: a FastAPI app that ``uvicorn --uds`` serves.

Reading order: after the server; it is the same mechanism as docker.sock.

Docker's API (``/var/run/docker.sock``), PostgreSQL's and MySQL's local
connections, systemd's and many agents' control APIs are plain protocols on
a Unix socket: nothing of HTTP changes, only the address.  So the socket's
file permissions decide who may call the API, with no port open to anyone.
This app puts a small read-only HTTP face on the session server::

    WIRELAB_SESSION_SOCKET=/tmp/wirelab-sessions-0/default \\
        uvicorn --uds /tmp/api.sock learn_unix_socket.http_api:app
    curl --unix-socket /tmp/api.sock http://localhost/sessions

(The host name in the URL is only the ``Host`` header: curl connects to the
socket whatever it says.)  ``GET /sessions`` asks the session server with a
LIST frame over *its* Unix socket and answers JSON; ``GET /healthz`` answers
``ok``.
"""

from __future__ import annotations

import os

from fastapi import FastAPI, HTTPException

from .client import Disconnected, ServerError, SessionClient
from .runtime import default_socket_path

app = FastAPI(title="wirelab sessions")


def session_socket() -> str:
    return os.environ.get("WIRELAB_SESSION_SOCKET") or default_socket_path()


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/sessions")
def sessions() -> dict[str, object]:
    """Every session, as the session server lists them (a plain def: FastAPI runs it in a thread)."""
    path = session_socket()
    try:
        with SessionClient(path) as client:
            lines = client.list()
    except (OSError, ServerError, Disconnected, TimeoutError) as exc:
        raise HTTPException(502, f"session server at {path}: {exc}") from None
    listed = []
    for line in lines:
        name, *fields = line.split()
        listed.append({"name": name, **dict(field.split("=", 1) for field in fields)})
    return {"socket": path, "sessions": listed}
