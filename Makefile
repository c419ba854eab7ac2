# Leadforge: `make run` serves the app with demo data; `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
STRIPE_PORT ?= 8420
HOST ?= 127.0.0.1
export FLASK_APP := wsgi.py
# `make run`: the app on HOST:PORT; the published site on another origin of the same server (localhost).
RUN_ENV = FLASK_DEBUG=$${FLASK_DEBUG:-1} BASE_URL=http://$(HOST):$(PORT) SITE_URL=$${SITE_URL:-http://localhost:$(PORT)}

# Tests and benchmarks use these (PostgreSQL and Redis on this machine).
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/leadforge_test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
export TEST_DATABASE_URL TEST_REDIS_URL

.PHONY: run install install-dev services chromium lint test bench screens worker vendor clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-localstripe: requirements-localstripe.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-localstripe.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt requirements-localstripe.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

## Serve the app on http://$(HOST):$(PORT) with a demo workspace (SQLite unless DATABASE_URL is set). With no
## STRIPE_SECRET_KEY, payments go to localstripe (a local stand-in for Stripe) on STRIPE_PORT: test card 4242...
run: install $(VENV)/.installed-localstripe
	@$(RUN_ENV) $(BIN)/flask db upgrade
	@$(RUN_ENV) $(BIN)/flask seed-demo
	@echo ""
	@echo "  Leadforge is running at http://$(HOST):$(PORT)"
	@echo "  Log in as demo@example.com with the password leadforge-demo"
	@echo "  Published funnels are served on $${SITE_URL:-http://localhost:$(PORT)} (another origin than the app)"
	@if [ -z "$$STRIPE_SECRET_KEY" ]; then echo "  Payments: localstripe on http://localhost:$(STRIPE_PORT), pay with the test card 4242 4242 4242 4242"; fi
	@echo ""
	@if [ -z "$$STRIPE_SECRET_KEY" ]; then \
	  $(BIN)/python -m tests.stripe_standin --port $(STRIPE_PORT) >/dev/null 2>&1 & \
	  trap "kill $$! 2>/dev/null" EXIT INT TERM; \
	  export STRIPE_SECRET_KEY=sk_test_localstripe STRIPE_PUBLISHABLE_KEY=pk_test_localstripe \
	    STRIPE_API_BASE=http://localhost:$(STRIPE_PORT) STRIPE_JS_URL=http://localhost:$(STRIPE_PORT)/js.stripe.com/v3/; \
	fi; $(RUN_ENV) $(BIN)/flask run --host $(HOST) --port $(PORT)

## Make sure PostgreSQL and Redis answer on 127.0.0.1 (start them if they are installed but down).
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; pg_isready -h 127.0.0.1 -p 5432
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
	@for i in $$(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done; redis-cli -h 127.0.0.1 -p 6379 ping

## Debian's Chromium, driven by Playwright in the browser tests.
chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

## Ruff (pyproject.toml): import order, unused code, likely bugs, line length.
lint: install-dev
	$(BIN)/ruff check .

## The linter, then the whole suite against PostgreSQL and Redis, browser tests included.
test: install-dev services chromium
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Benchmarks (tests/perf): each prints its figures next to its target.
bench: install-dev services
	$(BIN)/python -m tests.perf

## Screenshots of the demo's main pages (desktop, laptop, phone) in test-artifacts/screens/, to compare a change.
screens: install-dev chromium
	$(BIN)/python -m tests.browser.screens test-artifacts/screens

## An RQ worker for the queue (needs REDIS_URL).
worker: install
	$(BIN)/flask worker

## Re-download the vendored front-end files listed in static/vendor/VERSIONS.
vendor:
	static/vendor/refresh.sh

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
