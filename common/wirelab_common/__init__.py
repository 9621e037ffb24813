"""wirelab_common: the few helpers every wirelab pattern shares.

Read these only when a pattern's code sends you here:

- ``wiretrace``  -- the one trace convention (``>`` sent, ``<`` received, ``=`` state).
- ``trace_events`` -- the same trace as JSON Lines events (``--trace-file``, ``WIRELAB_TRACE_FILE``).
- ``ports``      -- free loopback ports, and a clear error when a port is busy.
- ``backoff``    -- exponential backoff with full jitter (reconnects and retries).
- ``processes``  -- start a server process, wait until it is ready, stop it by PID.
- ``redis_server`` -- find Redis (``REDIS_URL``) or start a throwaway ``redis-server``.
- ``errors``     -- ``SetupError`` and ``run_main``: how demos and CLIs fail with a hint.
- ``event_loop`` -- ``--loop auto|asyncio|uvloop`` and ``run_server`` (no web framework).
- ``asgi_server`` -- run an app on uvicorn: ready line, clean SIGTERM, ``--loop``, body limits.
- ``nginx_proxy`` -- render a pattern's nginx template and say how to start nginx.
- ``server_cli`` -- the one server skeleton: --host/--port/--loop/-v/-q and the ready line.
- ``state_table`` -- one shape for state machines: a table, ``fire()``, a drawn diagram.
- ``waiting``    -- ``eventually()``: a bounded wait that says what it waited for.
- ``patterns``   -- the one list of patterns, and the Debian packages their peers come from.
- ``system_deps`` -- install those packages when missing (``make demo``/``make test`` run it).
- ``tour``       -- ``make demo``: every demo in turn, to the end, then a summary table.
- ``capture``    -- a demo's loopback traffic as a pcap file (``--pcap``) that Wireshark opens.
- ``viewer``     -- the trace events drawn as a sequence diagram in the browser (``make view``).
"""
