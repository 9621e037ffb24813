"""learn_pubsub: publish-subscribe through Redis, from RESP bytes up (see pubsub/README.md)."""
