"""learn_acme: how free HTTPS works, an ACME (RFC 8555) certificate authority and client from scratch.

Reading order: ``jwk.py`` (keys as JSON, RFC 7638 thumbprints), ``jws.py``
(signed requests, RFC 7515 as RFC 8555 §6.2 profiles it), ``objects.py`` (the
state machines of RFC 8555 §7.1.6), ``problems.py`` (§6.7 errors),
``challenges.py`` (key authorizations, HTTP-01, DNS-01, DNS-PERSIST-01),
``pki.py`` (the CA's root, intermediate and issued certificates), ``ca.py``
(the CA on FastAPI), ``client.py`` (the client), ``demo.py``.
"""
