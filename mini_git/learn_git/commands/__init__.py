"""One module per command; each has ``register(subparsers)`` and keeps its logic small.

The commands are the application layer: they combine the pure formats
(``objects``, ``index``, ``tree_diff``, ``merge3``, ``unified_diff``) with the
file-system layer (``odb``, ``refs``, ``repo``, ``workdir``).
"""
