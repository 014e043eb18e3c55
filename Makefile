# The two commands a newcomer needs: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Checks (and, as root or with passwordless sudo, installs) the Debian packages a step needs.
SYSTEM_PACKAGES := PYTHON=$(PYTHON) VENV=$(VENV) scripts/system-packages.sh

.PHONY: install system-packages run test test-fast check lint typecheck fmt cluster bench clean

install: $(VENV)/.installed node_modules/.installed bench/node/node_modules/.installed

$(VENV)/.installed: pyproject.toml
	@$(SYSTEM_PACKAGES) build
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	@touch $@

node_modules/.installed: package.json package-lock.json
	@$(SYSTEM_PACKAGES) build
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The Node.js Socket.IO reference that `delivery bench` measures the hub beside.
bench/node/node_modules/.installed: bench/node/package.json bench/node/package-lock.json
	@$(SYSTEM_PACKAGES) build
	npm ci --prefix bench/node --no-audit --no-fund --loglevel=error
	@touch $@

## Install, migrate, load the demo city and serve on embedded defaults at http://127.0.0.1:8000
run: install
	$(BIN)/delivery migrate
	$(BIN)/delivery demo --if-empty
	$(BIN)/delivery serve --host $(HOST) --port $(PORT)

## redis-server, MariaDB, nginx, Chromium, wrk, iproute2, iptables, npm, docker-compose, python3-venv: apt-get installs any missing
system-packages:
	@$(SYSTEM_PACKAGES) test

## The whole test suite on real MariaDB, redis-server, nginx, Hypercorn nodes and Chromium
test: system-packages install
	$(BIN)/pytest

## The unit tier only (tests/unit): no database, Redis, network or subprocess, in seconds
test-fast: $(VENV)/.installed
	$(BIN)/pytest tests/unit

check: lint typecheck test

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## MariaDB, three Redis, two nodes and nginx on http://127.0.0.1:8080
cluster: install
	$(BIN)/delivery cluster --nodes 2 --port 8080

## Every benchmark figure side by side on a fresh cluster (README, Benchmarks); ARGS=--quick etc.
bench: install
	$(BIN)/delivery bench $(ARGS)

clean:
	rm -rf var test-artifacts .pytest_cache .mypy_cache .ruff_cache
