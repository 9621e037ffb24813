"""The baseline for the sse benchmark: a plain Starlette ``StreamingResponse``.

    python bench/bench_sse_peers.py PORT

The least an SSE server can do: one list of pre-formatted events, one
``asyncio.Condition`` to wake the streams, and each stream an async generator
yielding the events it has not sent yet.  No ids kept per client, no replay,
no heartbeats, no disconnect bookkeeping: what our server does on top of this
is what the ratio measures.  ``POST /publish`` takes the same JSON as ours.
"""

from __future__ import annotations

import asyncio
import json
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

events: list[bytes] = []
changed = asyncio.Condition()


async def stream(request: Request) -> StreamingResponse:
    async def generate():
        sent = len(events)
        while True:
            async with changed:
                while len(events) <= sent:
                    await changed.wait()
            chunk = b"".join(events[sent:])
            sent = len(events)
            yield chunk

    return StreamingResponse(generate(), media_type="text/event-stream")


async def publish(request: Request) -> JSONResponse:
    body = await request.json()
    event_id = len(events) + 1
    data = json.dumps(body["data"], separators=(",", ":"))
    events.append(f"id: {event_id}\nevent: {body['type']}\ndata: {data}\n\n".encode())
    async with changed:
        changed.notify_all()
    return JSONResponse({"id": str(event_id)})


app = Starlette(routes=[Route("/events", stream), Route("/publish", publish, methods=["POST"])])

if __name__ == "__main__":
    port = int(sys.argv[1])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    print(f"= baseline listening on http://127.0.0.1:{port}", flush=True)
    uvicorn.Server(config).run()
