#!/usr/bin/env bash
# The Docker engine for `make compose-test`, started by the project when none is running.
#
#   tools/compose-engine.sh start   install docker.io/docker-compose/debootstrap if missing (root,
#                                   Debian), then start dockerd unless one already answers
#   tools/compose-engine.sh stop    stop the dockerd that `start` started (and only that one)
#
# The engine's networks use the benchmark range 198.18.0.0/15 (RFC 2544): the default bridge
# gets 198.18.0.0/24 and every compose network a /24 of 198.19.0.0/16, so nothing collides
# with the private ranges (10/8, 172.16/12, 192.168/16) a host or its VPN may already route.
# --ip 127.0.0.1 makes loopback the default address for a published port.
set -euo pipefail
cd "$(dirname "$0")/.."

STATE=.cache/compose
PIDFILE=$STATE/dockerd.pid       # exists only while a dockerd that we started runs
LOG=$STATE/dockerd.log

engine_answers() { docker info >/dev/null 2>&1; }

install_missing() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v docker-compose >/dev/null || missing+=(docker-compose)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "compose-engine: missing ${missing[*]}; as root on Debian: apt-get install ${missing[*]}" >&2
        exit 2
    fi
    echo "compose-engine: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

start() {
    install_missing
    if engine_answers; then
        echo "compose-engine: a Docker engine is already running; using it (it stays running)"
        return 0
    fi
    [ "$(id -u)" = 0 ] || { echo "compose-engine: starting dockerd needs root" >&2; exit 2; }
    mkdir -p "$STATE"
    echo "compose-engine: starting dockerd (log: $LOG)"
    # setsid: the engine outlives this script but is stopped by `stop`, by its PID.
    setsid dockerd --bip 198.18.0.1/24 \
        --default-address-pool base=198.19.0.0/16,size=24 \
        --ip 127.0.0.1 >"$LOG" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    for _ in $(seq 60); do
        engine_answers && { echo "compose-engine: dockerd $(cat "$PIDFILE") is up"; return 0; }
        kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
        sleep 0.5
    done
    echo "compose-engine: dockerd did not answer within 30 s; last lines of $LOG:" >&2
    tail -20 "$LOG" >&2
    stop
    exit 1
}

stop() {
    [ -f "$PIDFILE" ] || { echo "compose-engine: no dockerd of ours to stop"; return 0; }
    local pid
    pid=$(cat "$PIDFILE")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"   # dockerd stops its containers and its own containerd
        for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$pid" 2>/dev/null && { echo "compose-engine: dockerd $pid ignored SIGTERM; SIGKILL"; kill -KILL "$pid"; }
    fi
    rm -f "$PIDFILE"
    # dockerd leaves its default bridge behind; it made it, so it goes with it.
    if ip link show docker0 >/dev/null 2>&1; then ip link delete docker0 || true; fi
    echo "compose-engine: dockerd $pid stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
