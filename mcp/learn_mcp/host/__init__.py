"""The second lesson: the host side of MCP, the application that uses a server's tools.

Read it after the server (the package above): ``client_session`` (which revision, which
messages, no I/O) -> ``client_stdio`` / ``client_http`` (the two transports) ->
``client`` (``McpClient``) -> ``asking`` (answering the server's questions) -> ``guards`` ->
``planner`` -> ``agent`` (the loop).
It shares only ``jsonrpc`` and ``summary`` with the server: the same message types, and the
same trace wording, on both ends.
"""
