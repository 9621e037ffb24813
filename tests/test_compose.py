"""docker-compose.yml, checked statically (``make compose-test`` runs it on a real engine).

The file is validated against the Compose specification's JSON schema
(``check-jsonschema --builtin-schema vendor.compose-spec``), everything it
points at on disk (build contexts, Dockerfiles, mounted config files) must exist,
and the house rules hold: ports published on 127.0.0.1 only and never on the host's
own services' ports, nobody runs as root, every serving service has a health check,
and the network is in the benchmark range, never a private one.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from wirelab_common.patterns import PATTERNS

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
VALIDATOR = Path(sys.executable).parent / "check-jsonschema"


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    validator = str(VALIDATOR) if VALIDATOR.exists() else shutil.which("check-jsonschema")
    assert validator, "check-jsonschema is a dev dependency (make setup installs it)"
    return subprocess.run([validator, "--builtin-schema", "vendor.compose-spec", str(path)],
                          capture_output=True, text=True, timeout=60)


def test_compose_file_matches_the_compose_spec():
    result = validate(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_validator_rejects_a_broken_compose_file(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  web:\n    image: 42\n    ports: {oops: true}\n")
    assert validate(broken).returncode != 0


def test_compose_runs_every_pattern_that_has_a_server():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert {"redis", "nginx", "echo", "chat1", "chat2", "sse", "webhook-receiver", "webhook-provider",
            "pubsub-subscriber", "pubsub-consumer", "queue-web", "queue-worker",
            "mcp", "mini-git", "webrtc-signaling", "dns", "graphql1", "graphql2", "sessions",
            "proxy", "proxy-main", "proxy-blog", "tunnel-relay", "tunnel-app",
            "tunnel-agent", "streaming", "acme-ca", "acme-web", "choose", "hybrid1",
            "hybrid2"} <= set(services)


# Patterns whose servers are not in the stack yet, and why.  A pattern leaves this list the
# day one of its services runs its package; the test below fails on an entry that is stale.
NOT_COMPOSED: dict[str, str] = {}


def test_every_pattern_runs_in_the_stack_or_says_why_not():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    commands = " ".join(str(service.get("command", "")) for service in services.values())
    composed = {p.folder for p in PATTERNS if f"{p.package}." in commands}
    missing = sorted({p.folder for p in PATTERNS} - composed - set(NOT_COMPOSED))
    assert not missing, f"add a service for {missing} to docker-compose.yml (or say why not here)"
    stale = sorted(set(NOT_COMPOSED) & composed)
    assert not stale, f"{stale} now run in the stack: remove them from NOT_COMPOSED"


def test_everything_compose_points_at_exists():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for name, service in services.items():
        build = service.get("build")
        if build:
            context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
            assert context.is_dir(), f"{name}: build context {context} missing"
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            assert (context / dockerfile).is_file(), f"{name}: {dockerfile} missing"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: mounted {source} missing"


HOST_SERVICES = {6379, 5432, 3306, 5672, 1883, 4222}  # already taken on these machines


def test_ports_are_published_on_loopback_away_from_the_host_services():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for name, service in services.items():
        for port in service.get("ports", []):
            host_ip, host_port, _ = str(port).split(":", 2)
            assert host_ip == "127.0.0.1", f"{name}: {port} is published beyond loopback"
            assert int(host_port) not in HOST_SERVICES, f"{name}: {port} collides with a host service"


def test_nobody_runs_as_root_and_every_serving_service_has_a_health_check():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for name, service in services.items():
        assert service.get("user") not in ("root", "0"), f"{name} runs as root"
        if service.get("ports"):
            assert "healthcheck" in service, f"{name} serves a port but has no health check"


def test_the_network_is_in_the_benchmark_range():
    config = yaml.safe_load(COMPOSE.read_text())["networks"]["default"]["ipam"]["config"]
    for entry in config:
        assert ipaddress.ip_network(entry["subnet"]).subnet_of(ipaddress.ip_network("198.18.0.0/15"))
