"""The second lesson: a recursive resolver, iterating from the root hints and caching what it learns.

Reading order: cache -> resolver -> policy -> upstream -> server (with replies) -> fast
-> trace_dig.

- ``cache.py``: RRsets, negative answers and stale data with expiry times,
  and the wire-bytes answer cache of the front end;
- ``resolver.py``: the pure step function (which server next, what a
  response means, bailiwick);
- ``policy.py``: who may recurse (allow-list), response rate limiting;
- ``upstream.py``: queries to authoritative servers and ``Recursor``, the
  loop that drives ``resolver.py``;
- ``server.py``: the front end clients talk to
  (``python -m learn_dns.recursive.server``); ``replies.py``: the replies it
  makes without resolving (errors, REFUSED, TC=1);
- ``fast.py``: speed beside the lesson, hot cache hits sent again without
  parsing (with ``../udp_batch.py``), on unless ``--fast off``;
- ``trace_dig.py``: ``dig +trace`` in the wirelab trace format.

Why ``recursive`` and not ``resolver``: ``learn_dns.recursive.resolver`` is
the step function's module, and a package of the same name around it would
read ``resolver.resolver``; ``recursive`` also names the role that sets this
side apart from the authoritative servers of part one (RFC 1034 §4.3.1:
"recursive service"), and it is not dnspython's ``dns.resolver``, the stub
resolver the tests use as a client.
"""
