# wirelab: `make demo` runs every demo, `make test` runs the test suite.
# Every target bootstraps what it needs (`make setup`), so a fresh clone works.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.wirelab-installed

# The patterns, from the one list (common/wirelab_common/patterns.py); each has demo-<pattern>.
PATTERNS := $(shell $(PYTHON) common/wirelab_common/patterns.py names 2>/dev/null)
# The Debian packages step: installs what is missing when root with apt-get, otherwise
# says once what to run and goes on (WIRELAB_NO_INSTALL=1 turns the installing off).
SYSTEM_DEPS := PYTHONPATH=common $(PYTHON) -m wirelab_common.system_deps

.PHONY: help setup system-deps system-deps-auto demo $(addprefix demo-,$(PATTERNS)) test bench \
        $(addprefix bench-,$(PATTERNS)) lint conformance-websocket clean \
        demo-mini_git-network demo-tunnel-netlab npm-peers compose-test view view-shots

help:
	@echo "make demo             every demo in turn (a guided tour), then a summary table"
	@echo "make demo-<pattern>   one demo: $(PATTERNS)"
	@echo "make test             the whole test suite"
	@echo "make bench            every benchmark, then one table of every target met or missed (figures, not tests)"
	@echo "make lint             ruff"
	@echo "make setup            .venv with the pinned dependencies (done by every target)"
	@echo "make system-deps      the Debian packages the demos and tests use (as root; done by demo and test)"
	@echo "make compose-test     the docker-compose stack on a real engine, checked, drilled, removed (as root)"
	@echo "make view FILE=F      draw a recorded trace (WIRELAB_TRACE_FILE=F make demo-dns) as a sequence diagram"
	@echo "make view-shots       regenerate the diagrams the READMEs show"

setup: $(STAMP)

# Re-run only when the pins change.  The interpreter must be 3.11 or newer.
# requirements-dev.lock = requirements.lock (what runs) + the tests' and linter's packages, with hashes.
$(STAMP): pyproject.toml requirements.lock requirements-dev.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
	  { echo "error: wirelab needs Python >= 3.11 ($(PYTHON) is `$(PYTHON) --version 2>&1`)"; \
	    echo "  what to do: install python3.11 and run: make PYTHON=python3.11 setup"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

system-deps:
	$(SYSTEM_DEPS)

system-deps-auto:
	@$(SYSTEM_DEPS) --auto

# The npm peers (the MCP conformance suite and Inspector; the graphql-ws reference client with
# graphql and ws; hls.js, which the streaming tests load into Chromium), pinned to the newest
# releases that run on Node 20;
# installed into .cache/npm, outside any test's time limit, again whenever this list changes
# (the stamp holds the list it installed).  Without npm, the tests that need them skip (and
# fail in CI).
NPM_PEERS := @modelcontextprotocol/conformance@0.1.13 @modelcontextprotocol/inspector@0.15.0 \
             graphql-ws@6.4.2 graphql@16.15.0 ws@8.23.1 hls.js@1.7.4
NPM_STAMP := .cache/npm/.wirelab-installed
npm-peers:
	@if [ "$$(cat $(NPM_STAMP) 2>/dev/null)" = "$(NPM_PEERS)" ]; then :; \
	elif command -v npm >/dev/null 2>&1; then \
	  { npm install --prefix .cache/npm --save-exact --no-audit --no-fund --loglevel=error $(NPM_PEERS) && \
	    echo "$(NPM_PEERS)" > $(NPM_STAMP); } || echo "npm-peers: npm install failed; the tests that need them will try again" >&2; \
	else echo "npm-peers: no npm here; the MCP, graphql and streaming tests that need npm packages will skip (Debian: nodejs npm)" >&2; fi

# The tour: every demo, even after one fails, then a table; exit 0 only if all passed.
demo: setup system-deps-auto
	$(PY) -m wirelab_common.tour $(ARGS)

# One pattern's demo each (the modules it runs are listed in patterns.py; a repository test
# checks that these targets and that list name the same patterns).
DEMO_ONE = $(PY) -m wirelab_common.tour --only $(patsubst demo-%,%,$@) $(ARGS)
demo-websocket: setup system-deps-auto
	$(DEMO_ONE)
demo-sse: setup system-deps-auto
	$(DEMO_ONE)
demo-webhook: setup system-deps-auto
	$(DEMO_ONE)
demo-pubsub: setup system-deps-auto
	$(DEMO_ONE)
demo-queue: setup system-deps-auto
	$(DEMO_ONE)
demo-dns: setup system-deps-auto
	$(DEMO_ONE)
demo-mcp: setup system-deps-auto
	$(DEMO_ONE)
demo-mini_git: setup system-deps-auto
	$(DEMO_ONE)
demo-webrtc: setup system-deps-auto
	$(DEMO_ONE)
demo-unix_socket: setup system-deps-auto
	$(DEMO_ONE)
demo-graphql: setup system-deps-auto
	$(DEMO_ONE)
demo-proxy: setup system-deps-auto
	$(DEMO_ONE)
demo-streaming: setup system-deps-auto
	$(DEMO_ONE)
demo-tunnel: setup system-deps-auto
	$(DEMO_ONE)
demo-acme: setup system-deps-auto
	$(DEMO_ONE)
demo-choose: setup system-deps-auto
	$(DEMO_ONE)

# choose/: the six deliveries measured side by side; rewrites choose/docs/lab.md and lab.svg.
choose-lab: setup system-deps-auto
	$(PY) -m learn_choose.lab $(ARGS)

# The tunnel's outbound-only lab in network namespaces (root: ip netns, iptables).
demo-tunnel-netlab: setup system-deps-auto
	$(PY) -m learn_tunnel.netlab $(ARGS)

# The network half of mini_git alone (smart HTTP: clone, fetch, push against real git).
demo-mini_git-network: setup system-deps-auto
	$(PY) -m learn_git.network.demo $(ARGS)

test: setup system-deps-auto npm-peers
	$(PY) -m pytest $(ARGS)

# The docker-compose stack on a real Docker engine (started here if none runs, as root):
# stand-in images when no registry answers, build, up, end-to-end checks, failure drills,
# then everything removed (docs/compose.md).
compose-test: setup system-deps-auto
	PY=$(PY) tools/compose-test.sh

# Every benchmark in turn, each adding its rows to one results file (wirelab_common.bench_report);
# a benchmark that fails is noted and the others still run; then one table of every row against
# its target (bench/summary.py), also written into bench/README.md.  Exit 1 if one crashed.
BENCH_RESULTS ?= .cache/bench/results.jsonl

bench: setup
	@$(PY) bench/summary.py begin $(BENCH_RESULTS)
	@for p in $(PATTERNS); do \
	    WIRELAB_BENCH_RESULTS=$(abspath $(BENCH_RESULTS)) $(MAKE) --no-print-directory bench-$$p \
	        || $(PY) bench/summary.py crashed $(BENCH_RESULTS) $$p; \
	done
	@$(PY) bench/summary.py end $(BENCH_RESULTS)

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

bench-unix_socket: setup
	$(PY) bench/bench_unix_socket.py $(ARGS)

bench-graphql: setup
	$(PY) bench/bench_graphql.py $(ARGS)

bench-proxy: setup
	$(PY) bench/bench_proxy.py $(ARGS)

bench-streaming: setup
	$(PY) bench/bench_streaming.py $(ARGS)

bench-tunnel: setup
	$(PY) bench/bench_tunnel.py $(ARGS)

bench-acme: setup
	$(PY) bench/bench_acme.py $(ARGS)

bench-choose: setup
	$(PY) -m learn_choose.lab $(ARGS)

conformance-websocket: setup
	$(PY) -m learn_websocket.conformance $(ARGS)

# The events of a demo as a sequence diagram in the browser (common/wirelab_common/viewer.py):
#   WIRELAB_TRACE_FILE=/tmp/events.jsonl make demo-websocket   (in one terminal)
#   make view FILE=/tmp/events.jsonl                            (in another; it follows the file live)
view: setup
	$(PY) -m wirelab_common.viewer $(FILE) $(ARGS)

# Each pattern's docs/sequence.png, the picture of its README's "Watch it" (needs chromium).
view-shots: setup
	$(PY) -m wirelab_common.viewer_shots $(ARGS)

lint: setup
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
