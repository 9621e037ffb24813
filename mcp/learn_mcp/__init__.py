"""MCP: the Model Context Protocol by hand (JSON-RPC 2.0, lifecycle, stdio and Streamable HTTP).

This package is the server, the first lesson; the host that uses a server's tools
(client, guardrails, agent loop) is the second, in the subpackage ``learn_mcp.host``.
"""
