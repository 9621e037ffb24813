"""The legacy session's GET stream: messages that belong to no POST (Streamable HTTP, 2025-11-25).

Reading order: ... -> sessions + http_headers + **http_get** + http_transport -> server.

2025-11-25 basic/transports §Listening for Messages from the Server: a client may
open one SSE stream with ``GET`` (and ``Mcp-Session-Id``); the server sends on it
what is not tied to any request the client is making.  Here that is:

- changes announced to all (``notifications/resources/updated`` to subscribers,
  ``list_changed``): :meth:`GetStream.announce`;
- the server's own requests (``elicitation/create``, ``sampling/createMessage``)
  when the POST stream of the call that asks is closed already, as for the
  ``remind`` tool, which asks in the background after its call has returned:
  :meth:`GetStream.standalone_for`.  If the client has not opened its GET stream
  yet, the stream is created anyway: its events wait in the session's log and are
  sent when the GET arrives.

Like every stream of a session, the GET stream is an event log (sessions.py): each
event has an id, and a client whose connection broke sends ``GET`` with
``Last-Event-ID`` to get the events after it (§Resumability), also those sent while
nobody was listening.  A new stream starts with a priming event (an id, no data),
so even a client that has seen nothing yet can resume.

``--sse-poll-ms N`` (``HttpSettings.poll_ms``) makes every GET a poll: the server
sends the events the client has not seen, then closes the response with ``retry:
N``, and the client comes back after N ms with ``Last-Event-ID`` (the SSE polling of
SEP-1699).  Every message on the GET stream then reaches the client by resumption.
A POST's stream can be ended the same way in the middle of its call (a tool's
``ctx.close_stream()``, http_transport.py); the GET that resumes it carries the
rest of that call, its response last.  A ``Last-Event-ID`` the log cannot continue
from is refused with 404 (sessions.py ``EventStream.knows``).

:class:`GetStream` is a mixin of ``http_transport.McpHttpApp``, which supplies
``store``, ``core``, ``settings``, ``trace``, ``traced`` and ``event_stream``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request as HttpRequest
from starlette.responses import Response as HttpResponse

from .jsonrpc import INVALID_REQUEST, Message, Notification, error_response, serialize
from .lifecycle import client_name
from .sessions import EventStream, Session, parse_event_id

if TYPE_CHECKING:
    from .http_transport import McpHttpApp

JSON = "application/json"
SSE = "text/event-stream"


def json_response(message: Message | dict[str, Any] | None, status: int = 200,
                  headers: dict | None = None) -> HttpResponse:
    body = b"" if message is None else (json.dumps(message).encode() if isinstance(message, dict)
                                         else serialize(message))
    return HttpResponse(body, status, headers, media_type=JSON if body else None)


def refuse(status: int, code: int, text: str, headers: dict | None = None) -> HttpResponse:
    """An HTTP error whose body is a JSON-RPC error with no id (both revisions allow that)."""
    return json_response(error_response(None, code, text), status, headers)


class GetStream:
    def get(self: McpHttpApp, http: HttpRequest) -> HttpResponse:  # type: ignore[misc]
        session_id = http.headers.get("mcp-session-id")
        if session_id is None:  # 2026-07-28 §Backward Compatibility: GET is not part of it
            return refuse(405, INVALID_REQUEST, "Method Not Allowed: GET needs a 2025-11-25 session",
                          {"Allow": "POST, DELETE"})
        session = self.store.get(session_id)
        if session is None:
            return refuse(404, INVALID_REQUEST, "Not Found: no such session")
        if SSE not in http.headers.get("accept", ""):
            return refuse(406, INVALID_REQUEST, f"Not Acceptable: GET needs Accept: {SSE}")
        poll = self.settings.poll_ms
        last = http.headers.get("last-event-id")
        if last is not None:
            where = parse_event_id(last)
            stream = session.find(where[0]) if where else None
            if stream is None or where is None or not stream.knows(where[1]):
                # Unknown, expired, never sent, or its successors were dropped: a replay would have a gap.
                return refuse(404, INVALID_REQUEST, f"Not Found: cannot resume after Last-Event-ID {last} "
                              "(no such event in this session's logs, or the events after it are gone); "
                              "send the request again")
            self.trace.state(f"resuming stream {stream.id} after event {where[1]}")
            return self.event_stream(stream.follow(where[1], caught_up=poll is not None), stream)
        standalone = session.standalone
        if standalone is not None and not standalone.closed and standalone.attached:
            return refuse(409, INVALID_REQUEST, "Conflict: this session's GET stream is already open")
        stream = self.standalone_for(session)
        return self.event_stream(stream.follow(caught_up=poll is not None), stream)

    def standalone_for(self, session: Session) -> EventStream:
        """The session's GET stream, created (with its priming event) if there is none open."""
        if session.standalone is None or session.standalone.closed:
            session.standalone = session.new_stream()
            session.standalone.append("")  # the priming event: an id to resume from, no message
        return session.standalone

    def send_on_get(self: McpHttpApp, session: Session, message: Message) -> None:  # type: ignore[misc]
        peer = client_name({}, session.lifecycle)
        self.standalone_for(session).append(self.traced(message, peer, via="SSE GET ").decode())

    async def announce(self: McpHttpApp, note: Notification) -> None:  # type: ignore[misc]
        """A change announced to all: each legacy session that wants it hears it on its GET stream.

        A session with no GET stream open misses it (the spec offers no other channel for
        messages unrelated to a request).
        """
        for session in self.store.sessions.values():
            if session.standalone is not None and not session.standalone.closed \
                    and self.core.wants(session.lifecycle, note):
                self.send_on_get(session, note)
