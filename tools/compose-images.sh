#!/usr/bin/env bash
# Local stand-ins for the images docker-compose.yml and the Dockerfile name, for an engine
# that cannot pull (no registry reachable).  Every image already present is left alone, so
# on a machine that can pull, or once they are built, this does nothing.
#
#   tools/compose-images.sh           build what is missing
#   tools/compose-images.sh --list    the images it stands in for, one a line
#   tools/compose-images.sh --remove  remove the stand-ins it built (by their label)
#
# How: debootstrap a minimal Debian bookworm from the mirror apt already uses, import it
# as wirelab-standin/debian:bookworm, then build each stand-in (tools/compose-images/*.Dockerfile)
# from it with Debian's packages, tagged with the official name.
# Cache (.cache/compose/, removed by `make clean`): the root filesystem tarball and each
# stand-in saved with `docker save`, so a repeat run loads them in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

HERE=tools/compose-images
CACHE=.cache/compose
BASE=wirelab-standin/debian:bookworm
# official name -> stand-in Dockerfile
declare -A STANDINS=([python:3.11-slim]=python [redis:7]=redis [nginx:1.27]=nginx)

has_image() { docker image inspect "$1" >/dev/null 2>&1; }

# Every image named by the compose file and the Dockerfile must have a stand-in here.
named_images() {
    { sed -nE 's/^[[:space:]]*image:[[:space:]]*["'\'']?([^"'\'' ]+).*/\1/p' docker-compose.yml
      sed -nE 's/^FROM[[:space:]]+([^[:space:]]+).*/\1/p' Dockerfile; } | grep -v '^wirelab' | sort -u
}

base_image() {
    has_image "$BASE" && return 0
    local tarball=$CACHE/rootfs-bookworm.tar
    if [ ! -s "$tarball" ]; then
        local mirror rootfs
        mirror=$(python3 tools/debian-mirror.py bookworm)
        rootfs=$(mktemp -d)
        echo "compose-images: debootstrap bookworm (minbase) from the mirror apt uses"
        debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$CACHE/debootstrap.log" 2>&1 \
            || { tail -20 "$CACHE/debootstrap.log" >&2; rm -rf "$rootfs"; exit 1; }
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
        tar -C "$rootfs" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
        rm -rf "$rootfs"
    fi
    docker import --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        "$tarball" "$BASE" >/dev/null
}

# The CA bundle pip uses here: $PIP_CERT, else pip's configured cert (`pip config list`).
pip_ca() {
    if [ -n "${PIP_CERT:-}" ]; then echo "$PIP_CERT"; return; fi
    python3 -m pip config list 2>/dev/null | sed -nE "s/^(global|:env:)\.cert='(.*)'$/\2/p" | head -1
}

build_standin() {
    local name=$1 kind=${STANDINS[$1]} saved context
    saved=$CACHE/standin-$kind.tar
    if [ -s "$saved" ] && docker load -q -i "$saved" >/dev/null && has_image "$name"; then
        echo "compose-images: $name loaded from $saved"
        return 0
    fi
    base_image
    context=$(mktemp -d)
    cp "$HERE/$kind.Dockerfile" "$context/Dockerfile"
    cp "$HERE"/*.sh "$context/" 2>/dev/null || true
    # The CA bundle pip trusts here, for the python stand-in (see python.Dockerfile).
    local ca
    ca=$(pip_ca)
    if [ -n "$ca" ] && [ -f "$ca" ]; then cp "$ca" "$context/pip-ca.crt"; else : >"$context/pip-ca.crt"; fi
    echo "compose-images: building $name (stand-in from Debian packages)"
    # The classic builder: the stand-ins need nothing more, and it is in every engine.
    DOCKER_BUILDKIT=0 docker build -q -t "$name" "$context" >"$CACHE/build-$kind.log" 2>&1 \
        || { tail -20 "$CACHE/build-$kind.log" >&2; rm -rf "$context"; exit 1; }
    rm -rf "$context"
    docker save -o "$saved.part" "$name" && mv "$saved.part" "$saved"
}

main() {
    mkdir -p "$CACHE"
    local name missing=0
    for name in $(named_images); do
        [ -n "${STANDINS[$name]:-}" ] || { echo "compose-images: no stand-in for $name (add one in $HERE)" >&2; missing=1; }
    done
    [ "$missing" = 0 ] || exit 1
    for name in $(named_images); do
        if has_image "$name"; then echo "compose-images: $name present"; else build_standin "$name"; fi
    done
}

case "${1:-}" in
    --list) named_images ;;
    --remove)
        # The label is inherited: this lists the stand-ins and every image built on them
        # (wirelab:latest's layers too).  A parent goes only after its children: a few passes.
        for _ in 1 2 3 4 5; do
            ids=$(docker images -a -q --filter label=org.wirelab.stand-in | awk '!seen[$0]++')
            [ -z "$ids" ] && break
            docker rmi -f $ids >/dev/null 2>&1 || true
        done
        docker rmi "$BASE" >/dev/null 2>&1 || true
        left=$(docker images -a -q --filter label=org.wirelab.stand-in)
        [ -z "$left" ] || { echo "compose-images: could not remove $left" >&2; exit 1; }
        echo "compose-images: stand-ins removed (cache kept in $CACHE)" ;;
    "") main ;;
    *) echo "usage: $0 [--list|--remove]" >&2; exit 2 ;;
esac
