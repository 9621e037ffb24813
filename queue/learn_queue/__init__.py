"""learn_queue: a Sidekiq-like background job queue on Redis that loses nothing (see queue/README.md)."""
