"""Part 2 of mini_git: clone, fetch and push over git's smart HTTP protocol (NETWORK.md).

A subpackage of its own because it is a second lesson: the wire formats
(``pkt_line``, ``pack_write``, ``pack_stream``), the server side
(``upload_pack``, ``receive_pack``, ``http_server``), the client side
(``transport_http``, ``remote``, ``remote_push``) and the demo
(``python -m learn_git.network.demo``).  It builds on part 1's modules
(``learn_git.objects``, ``odb``, ``pack``, ``refs``, ``repo``) and never
changes them; nothing here is imported unless a network command runs.
"""
