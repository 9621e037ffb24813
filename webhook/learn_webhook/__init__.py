"""learn_webhook: signed, retried, durable webhooks (see webhook/README.md).

Reading order: signatures -> outbox -> group_commit -> retry_schedule -> ssrf_guard ->
dispatcher -> lean_http -> direct_route -> provider_app -> provider -> inbox ->
receiver_app -> receiver -> demo.
"""
