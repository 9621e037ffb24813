#!/usr/bin/env bash
# Install the Debian packages that wirelab's demos and tests use, when missing.
# Needs root (CI and the development machines run as root).  Never starts daemons:
# demos and tests start their own servers on free loopback ports.
set -euo pipefail

# command -> Debian package
declare -A NEED=(
  [redis-server]=redis-server
  [nginx]=nginx-light
  [chromium]=chromium
  [dig]=dnsutils
  [kdig]=knot-dnsutils
  [dnsperf]=dnsperf
  [unbound]=unbound
  [dnsmasq]=dnsmasq
  [turnserver]=coturn
  [iptables]=iptables
  [socat]=socat
)

missing=()
for cmd in "${!NEED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEED[$cmd]}")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "system-deps: all present (${!NEED[*]})"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: missing ${missing[*]}; run as root: apt-get install -y ${missing[*]}" >&2
  exit 2
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}"
