"""learn_webhook: signed, retried, durable webhooks (see webhook/README.md).

Reading order: signatures -> outbox -> retry_schedule -> ssrf_guard -> dispatcher ->
provider_app -> provider -> inbox -> receiver_app -> receiver -> demo.
"""
