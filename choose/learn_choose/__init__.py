"""choose/: one live price feed delivered six ways, measured side by side, and a hybrid.

The lesson is choose/README.md; reading order: feed, sink, the six methods, app, server, lab.
"""
