"""learn_tunnel: an ngrok-style reverse tunnel over one outbound WebSocket.

Reading order: ``frames.py`` -> ``mux.py`` -> ``session.py`` -> ``relay.py`` / ``agent.py``
(with ``app.py``, the local app) -> ``demo.py``.
"""
