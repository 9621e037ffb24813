"""learn_webhook: signed, retried, durable webhooks (see webhook/README.md)."""
