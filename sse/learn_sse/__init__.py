"""learn_sse: Server-Sent Events from scratch and with sse-starlette (see sse/README.md)."""
