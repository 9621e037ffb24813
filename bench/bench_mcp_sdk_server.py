"""The benchmark's anchor peer: the official SDK's ``MCPServer`` offering the same ``calculate`` tool.

    python bench/bench_mcp_sdk_server.py --transport stdio
    python bench/bench_mcp_sdk_server.py --transport http --port 0 [-q]   # endpoint /mcp

The tool body is the very same function as ours (``learn_mcp.calculator.evaluate``),
so the benchmark compares the protocol machinery, not the arithmetic.  HTTP runs the
SDK's own Starlette app with its defaults (stateful sessions, SSE responses) on
uvicorn, with wirelab's options and ready line (``wirelab_common.server_cli``; with
``--port 0`` the ready line names the port); stdio runs ``MCPServer.run("stdio")``.
"""

from __future__ import annotations

import argparse

from mcp.server.mcpserver import MCPServer
from typing_extensions import TypedDict  # pydantic needs this TypedDict on Python < 3.12

from learn_mcp.calculator import evaluate
from wirelab_common.asgi_server import TracedServer, config, run_server
from wirelab_common.server_cli import add_server_options
from wirelab_common.wiretrace import Trace


class Value(TypedDict):
    value: float


server = MCPServer("bench-sdk")


@server.tool()
def calculate(expression: str) -> Value:
    """Evaluate an arithmetic expression."""
    return {"value": evaluate(expression)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    add_server_options(parser, port=8000)
    args = parser.parse_args()
    if args.transport == "stdio":
        server.run("stdio")
        return
    app = server.streamable_http_app(host=args.host)

    async def serve() -> None:
        trace = Trace("sdk", args.verbose, quiet=args.quiet)
        await TracedServer(config(app, args.host, args.port), trace).serve()

    run_server(serve, args.loop)


if __name__ == "__main__":
    main()
