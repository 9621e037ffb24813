#!/usr/bin/env bash
# `make compose-test`: the whole docker-compose stack on a real engine, checked end to end,
# then failure drills, then everything removed.  Phases, each timed:
#   engine   tools/compose-engine.sh start (install, start dockerd if none runs)
#   images   tools/compose-images.sh (stand-ins for images no registry can give us)
#   build    docker-compose build (the project's Dockerfile, as is)
#   up       docker-compose up -d, then wait for every health check
#   checks   tests/compose/test_stack.py (one real check per pattern)
#   drills   tests/compose/test_drills.py (kills, restarts, scaling, a cut network)
# Cleanup (always): docker-compose down -v --rmi local, the stand-ins it built, the engine if
# it started it.  The debootstrap root filesystem and the stand-ins stay cached in .cache/compose/.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-wirelab}
export WIRELAB_COMPOSE=1
declare -a TIMES=()
phase_start=0
begin() { phase=$1; phase_start=$(date +%s); echo "== compose-test: $phase"; }
end() { TIMES+=("$phase $(( $(date +%s) - phase_start )) s"); }

cleanup() {
    local rc=$?
    echo "== compose-test: cleanup"
    if docker info >/dev/null 2>&1; then
        [ $rc -eq 0 ] || docker-compose ps >&2 || true
        docker-compose down -v --rmi local --remove-orphans -t 5 >/dev/null 2>&1 || true
        docker rmi wirelab:latest >/dev/null 2>&1 || true
        tools/compose-images.sh --remove || true
    fi
    tools/compose-engine.sh stop || true
    printf '%s\n' "${TIMES[@]}" | sed 's/^/compose-test: /'
    exit $rc
}
trap cleanup EXIT

begin engine; tools/compose-engine.sh start; end
begin images; tools/compose-images.sh; end
begin build; docker-compose build -q; end
begin up
docker-compose up -d --no-build
# Every container running, and healthy where it has a health check (240 s at most: the
# health checks' start period is 120 s, and some thirty containers start on two cores).
deadline=$(( $(date +%s) + 240 ))
while :; do
    waiting=$(docker-compose ps -q | xargs docker inspect -f \
        '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' \
        | awk '$2 != "running" || ($3 != "healthy" && $3 != "none")')
    [ -z "$waiting" ] && break
    if [ "$(date +%s)" -gt "$deadline" ]; then
        echo "compose-test: not healthy after 240 s:" >&2; echo "$waiting" >&2
        docker-compose logs --tail 20 >&2; exit 1
    fi
    sleep 1
done
end
begin checks; $PY -m pytest tests/compose/test_stack.py -q -p no:cacheprovider; end
begin drills; $PY -m pytest tests/compose/test_drills.py -q -p no:cacheprovider -ra; end
