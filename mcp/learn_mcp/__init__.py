"""MCP: the Model Context Protocol by hand (JSON-RPC 2.0, lifecycle, stdio and Streamable HTTP)."""
