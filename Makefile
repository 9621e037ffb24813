# wirelab: `make demo` runs every demo, `make test` runs the test suite.
# Every target bootstraps what it needs (`make setup`), so a fresh clone works.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.wirelab-installed

# The patterns that exist; each has a demo-<pattern> target below.
PATTERNS := websocket sse webhook pubsub queue dns mcp mini_git webrtc

.PHONY: help setup system-deps demo $(addprefix demo-,$(PATTERNS)) test bench \
        $(addprefix bench-,$(PATTERNS)) lint conformance-websocket clean \
        demo-mini_git-network npm-peers

help:
	@echo "make demo             every demo in turn (a guided tour)"
	@echo "make demo-<pattern>   one demo: $(PATTERNS)"
	@echo "make test             the whole test suite"
	@echo "make bench            every benchmark (figures, not tests)"
	@echo "make lint             ruff"
	@echo "make setup            .venv with the pinned dependencies (done by every target)"
	@echo "make system-deps      Debian packages the demos and tests use (as root)"

setup: $(STAMP)

# Re-run only when the pins change.  The interpreter must be 3.11 or newer.
$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
	  { echo "error: wirelab needs Python >= 3.11 ($(PYTHON) is `$(PYTHON) --version 2>&1`)"; \
	    echo "  what to do: install python3.11 and run: make PYTHON=python3.11 setup"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

system-deps:
	bash tools/system-deps.sh

# The MCP peers from the npm registry, pinned to what runs on Node 20 (shared/PEERS.md);
# tests/mcp installs them on first use too, but CI does it up front, outside any test's time limit.
NPM_PEERS := @modelcontextprotocol/conformance@0.1.13 @modelcontextprotocol/inspector@0.15.0
npm-peers:
	npm install --prefix .cache/npm --save-exact --no-audit --no-fund --loglevel=error $(NPM_PEERS)

demo: $(addprefix demo-,$(PATTERNS))

demo-websocket: setup
	$(PY) -m learn_websocket.demo $(ARGS)

test: setup
	$(PY) -m pytest $(ARGS)

demo-sse: setup
	$(PY) -m learn_sse.demo $(ARGS)

demo-webhook: setup
	$(PY) -m learn_webhook.demo $(ARGS)

demo-pubsub: setup
	$(PY) -m learn_pubsub.demo $(ARGS)

demo-queue: setup
	$(PY) -m learn_queue.demo $(ARGS)

demo-dns: setup
	$(PY) -m learn_dns.demo $(ARGS)

demo-mcp: setup
	$(PY) -m learn_mcp.demo $(ARGS)

demo-mini_git: setup
	$(PY) -m learn_git.demo $(ARGS)
	$(PY) -m learn_git.demo_network $(ARGS)

# The network half alone (smart HTTP: clone, fetch, push against real git).
demo-mini_git-network: setup
	$(PY) -m learn_git.demo_network $(ARGS)

demo-webrtc: setup
	$(PY) -m learn_webrtc.demo $(ARGS)

bench: $(addprefix bench-,$(PATTERNS))

bench-websocket: setup
	$(PY) bench/bench_websocket.py $(ARGS)

bench-sse: setup
	$(PY) bench/bench_sse.py $(ARGS)

bench-webhook: setup
	$(PY) bench/bench_webhook.py $(ARGS)

bench-pubsub: setup
	$(PY) bench/bench_pubsub.py $(ARGS)

bench-queue: setup
	$(PY) bench/bench_queue.py $(ARGS)

bench-dns: setup
	$(PY) bench/bench_dns.py $(ARGS)
	$(PY) bench/bench_dns_resolver.py $(ARGS)

bench-mcp: setup
	$(PY) bench/bench_mcp.py $(ARGS)

bench-mini_git: setup
	$(PY) bench/bench_mini_git.py $(ARGS)
	$(PY) bench/bench_mini_git_clone.py $(ARGS)

bench-webrtc: setup
	$(PY) bench/bench_webrtc.py $(ARGS)

conformance-websocket: setup
	$(PY) -m learn_websocket.conformance $(ARGS)

lint: setup
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
