"""learn_proxy: a reverse proxy that puts a second server under one domain's ``/blog`` (see README.md)."""
