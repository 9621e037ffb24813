#!/bin/sh
# What the official redis image's entrypoint does, for the stand-in:
# - arguments that start with "-" (or a .conf file) are options for redis-server;
# - without a config file, redis-server would keep protected mode on and refuse every
#   other container (no password, not loopback), so --protected-mode no is added: inside
#   a container the network is the compose network, not the host's;
# - the server runs as the redis user, in /data.
set -e
case "$1" in
    -*|*.conf) set -- redis-server "$@" ;;
esac
if [ "$1" = redis-server ]; then
    case "$2" in
        *.conf) ;;
        *) shift; set -- redis-server --protected-mode no "$@" ;;
    esac
    if [ "$(id -u)" = 0 ]; then
        chown -R redis:redis /data 2>/dev/null || true
        exec setpriv --reuid=redis --regid=redis --init-groups "$@"
    fi
fi
exec "$@"
