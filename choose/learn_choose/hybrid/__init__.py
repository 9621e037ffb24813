"""The hybrid: a signed webhook in, Redis Streams between two fan-out servers, SSE and WebSocket out.

Reading order: signature -> envelope -> fanout -> stream -> app -> server -> upstream ->
clients -> demo.  The lesson is the "hybrid" section of choose/README.md.
"""
