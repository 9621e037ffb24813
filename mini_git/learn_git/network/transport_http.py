"""The client's HTTP driver: two requests per service, credentials, and the pkt-line trace.

Reading order: first of the client side (before ``remote.py``).  Spec:
gitprotocol-http "Smart Clients", "Smart Service git-upload-pack",
"Authentication"; RFC 7617 (Basic).

The smart protocol needs only two kinds of request::

    GET  <url>/info/refs?service=<service>          -> the ref advertisement
    POST <url>/<service>   (Content-Type: application/x-<service>-request)
                                                    -> application/x-<service>-result

Credentials come from the URL (``http://alice:secret@host/repo.git``) or from
``MINI_GIT_USERNAME``/``MINI_GIT_PASSWORD``.  Like git, we first ask without
them and send them only when the server answers 401 with ``WWW-Authenticate:
Basic``, so a public read never carries a password.

With ``-v`` every pkt-line is traced: ``>`` what we sent, ``<`` what came back.
The structured trace events also name the server (``peer``: "server", as
``http_server.py``'s trace calls itself, unless the caller names another) and
the commit a request is about (``cid``, ``smart_http.conversation_id``).
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from wirelab_common.wiretrace import Trace

from ..errors import GitError
from .pkt_line import describe_stream
from .smart_http import (
    Advertisement,
    advertisement_type,
    conversation_id,
    parse_advertisement,
    request_type,
    result_type,
)

SERVER = "server"  # the name http_server.py's trace uses: the default peer in the trace events


class TransportError(GitError):
    """The remote could not be reached, refused us, or answered something that is not git."""


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """The URL without ``user:password@``, and the credentials (URL first, then environment)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise TransportError(f"unsupported URL scheme in {url!r}: mini_git speaks smart HTTP only")
    credentials = None
    if parts.username is not None:
        credentials = (unquote(parts.username), unquote(parts.password or ""))
    elif os.environ.get("MINI_GIT_USERNAME"):
        credentials = (os.environ["MINI_GIT_USERNAME"], os.environ.get("MINI_GIT_PASSWORD", ""))
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", "")), credentials


class HttpTransport:
    """One remote repository over smart HTTP; ``trace`` shows the conversation."""

    def __init__(self, url: str, trace: Trace, timeout: float = 60.0, peer: str = SERVER) -> None:
        self.url, self.credentials = split_credentials(url)
        self.trace = trace
        self.peer = peer
        # An http:// URL never reaches TLS (redirects are not followed): no need to load the CA
        # bundle, which costs a start-up of ``clone`` tens of milliseconds.
        self.client = httpx.Client(timeout=timeout, headers={"User-Agent": "mini_git/0.1"},
                                   verify=self.url.startswith("https:"))
        self._auth: httpx.BasicAuth | None = None

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> HttpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs) -> httpx.Response:
        target = f"{self.url}/{path}"
        try:
            response = self.client.request(method, target, auth=self._auth, **kwargs)
            if response.status_code == 401 and self._auth is None and self.credentials:
                self.trace.state("401 Unauthorized: sending credentials (Basic)")
                self._auth = httpx.BasicAuth(*self.credentials)
                response = self.client.request(method, target, auth=self._auth, **kwargs)
        except httpx.HTTPError as exc:
            raise TransportError(f"cannot reach {self.url}: {exc}") from exc
        if response.status_code == 401:
            raise TransportError(f"authentication required by {self.url} "
                                 "(put user:password in the URL or set MINI_GIT_USERNAME/MINI_GIT_PASSWORD)")
        if response.status_code != 200:
            raise TransportError(f"{method} {target}: HTTP {response.status_code} "
                                 f"{response.text.strip()[:200]}")
        return response

    def advertisement(self, service: str) -> Advertisement:
        """``GET info/refs?service=...``: the refs and capabilities of ``service``."""
        self.trace.sent(f"GET {self.url}/info/refs?service={service}", peer=self.peer)
        response = self._request("GET", "info/refs", params={"service": service})
        kind = response.headers.get("content-type", "")
        if kind != advertisement_type(service):
            raise TransportError(f"{self.url} is not a smart git server (Content-Type {kind!r})")
        self.trace.received(f"200 {kind} ({len(response.content)} bytes)", describe_stream(response.content),
                            peer=self.peer)
        return parse_advertisement(response.content, service)

    def rpc(self, service: str, body: bytes) -> bytes:
        """``POST <service>``: one round of the stateless RPC."""
        cid = conversation_id(body)
        self.trace.sent(f"POST {self.url}/{service} ({len(body)} bytes)", describe_stream(body),
                        peer=self.peer, cid=cid)
        response = self._request("POST", service, content=body, headers={
            "Content-Type": request_type(service), "Accept": result_type(service)})
        kind = response.headers.get("content-type", "")
        if kind != result_type(service):
            raise TransportError(f"unexpected Content-Type {kind!r} from {service}")
        reply = response.content
        self.trace.received(f"200 {kind} ({len(reply)} bytes)", describe_stream(reply, 12), peer=self.peer,
                            cid=cid)
        return response.content
