# Two commands matter: `make run` and `make test`. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT    := $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq

.PHONY: run test test-scale lint fuzz bench screenshots clean

$(STAMP): pyproject.toml constraints.txt package.json package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	@command -v npm >/dev/null || { echo "installing Node.js and npm"; $(APT) nodejs npm; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(STAMP)

# Debian's chromium (the tests never download a browser), a colour emoji font for the cards, and jq
BROWSER_STAMP := $(VENV)/.browser
$(BROWSER_STAMP): | $(STAMP)
	@{ command -v chromium && fc-list | grep -qi "noto color emoji"; } >/dev/null 2>&1 || { echo "installing chromium and fonts"; $(APT) chromium fonts-noto-color-emoji; }
	@command -v jq >/dev/null || { echo "installing jq (the deployment guide's programs run through it)"; $(APT) jq; }
	@touch $(BROWSER_STAMP)

## run: start the sandbox simulators and the bot on http://localhost:3978/api/messages
run: $(STAMP)
	$(PY) -m bot sandbox

## test: the whole suite; no test collected (pytest exit 5) is a failure
test: $(STAMP) $(BROWSER_STAMP)
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: FAILED - no test ran (pytest exit code 5)"; exit 1; fi; \
	exit $$rc

## test-scale: the real-process tests (three `sre-consent-bot serve` processes on Azurite, kill -9, rolling restart,
## 200 plans recovered with Teams down, one reminder and one escalation per plan; on each SDK adapter, 300 alerts at
## once on three instances and a kill between two writes of a unit of work), the 5,000-alert floods (SQLite inbox;
## Storage Queue on two instances), then
## the whole-run token-leak scan over their logs
## (SCALE=all adds the heavy one: 200 plans executing, Teams down, kill -9, restart; and the 300 alerts three times)
SCALE ?= quick
test-scale: $(STAMP)
	$(if $(filter all,$(SCALE)),SCALE_ALERT_ROUNDS=3) $(PY) -m pytest -m "$(if $(filter all,$(SCALE)),scale or last,(scale and not heavy) or last)" \
		tests/integration/test_processes.py tests/integration/test_instances.py tests/integration/test_queue_inbox.py \
		tests/integration/test_alert_inbox.py tests/integration/test_follow_up_scale.py tests/test_no_token_leaks.py \
		$(PYTEST_ARGS)

## fuzz: at least FUZZ_EXAMPLES examples per input surface (tests/fuzz) through the running bot; prints the counts
FUZZ_EXAMPLES ?= 10000
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest tests/fuzz -q --timeout=0 -p no:cacheprovider \
		-W ignore::hypothesis.errors.HypothesisWarning $(PYTEST_ARGS)

# ruff format --check fails until the tree-wide `ruff format` (done once, last, so parallel branches do not conflict)
lint: $(STAMP)
	$(PY) -m ruff check bot cards sandbox tests
	$(PY) -m mypy
	$(PY) -m ruff format --check bot cards sandbox tests

## screenshots: PNGs of every card state and of a Playground conversation, into docs/images/
screenshots: $(STAMP) $(BROWSER_STAMP)
	$(PY) -m tests.e2e.screenshots docs/images

## bench: one run of every load against baselines measured alongside, then a profile; writes docs/benchmarks.md.
## Sizes: BENCH_REQUESTS, BENCH_SENDERS, BENCH_APPROVERS, BENCH_ROUNDS, BENCH_ALERTS, BENCH_STORES, BENCH_SDKS,
## BENCH_PROFILE, BENCH_PROFILE_COUNT (tests/bench/__main__.py and profile.py)
bench: $(STAMP)
	$(PY) -m tests.bench
	$(PY) -m tests.bench.profile

clean:
	rm -rf $(VENV) node_modules build .sandbox .pytest_cache .mypy_cache .ruff_cache
