# `make run` and `make test` set everything up on a fresh machine (Python 3.11 required).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FLASK := $(BIN)/flask --app petitions
PYTEST_ARGS ?=

CHROMIUM ?= /usr/bin/chromium
NGINX ?= /usr/sbin/nginx

.PHONY: run test test-sqlite test-postgres lint worker stack bench bench-timing bench-opendata bench-scale chromium nginx clean translations language

## The message catalogs (petitions/translations/<lang>/LC_MESSAGES/messages.po); the compiled
## .mo files are built from them by `make run` and `make test`, never committed.
CATALOGS := petitions/translations
POT := $(CATALOGS)/messages.pot
PO_FILES := $(wildcard $(CATALOGS)/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)
BABEL_KEYWORDS := -k _l -k lazy_gettext -k lazy_ngettext:1,2

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

%.mo: %.po $(STAMP)
	$(BIN)/pybabel compile --statistics -i $< -o $@

## Extract every message from the code and templates, update each catalog, compile them.
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg $(BABEL_KEYWORDS) --no-location --sort-output \
	  --project petitions --copyright-holder "the petitions authors" -o $(POT) .
	$(BIN)/pybabel update -i $(POT) -d $(CATALOGS) --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile --statistics -d $(CATALOGS)

## A new language: make language CODE=uz (then translate its messages.po; see README).
language: $(STAMP)
	@test -n "$(CODE)" || { echo "usage: make language CODE=<code>"; exit 2; }
	$(BIN)/pybabel init -i $(POT) -d $(CATALOGS) -l $(CODE)

## Run the app on SQLite (instance/petitions.sqlite3) at http://127.0.0.1:5000, mail to the log.
run: $(STAMP) $(MO_FILES)
	$(FLASK) db upgrade
	$(FLASK) seed
	$(FLASK) serve --host 127.0.0.1 --port 5000

## Debian's Chromium for the end-to-end tests (playwright drives it; it never downloads one).
chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "The browser tests need Chromium at $(CHROMIUM): sudo apt-get install -y chromium"; exit 1; \
	  fi; \
	fi

## Debian's nginx for the production stack on loopback (deploy/loopback.py: tests/test_stack.py,
## `make stack`, the benchmarks); it runs from the work folder, never as the system's service.
nginx:
	@if [ ! -x "$(NGINX)" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's nginx-light for the stack tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; \
	  else \
	    echo "The stack tests need nginx at $(NGINX): sudo apt-get install -y nginx-light"; exit 1; \
	  fi; \
	fi

## axe-core for the accessibility browser tests (tests/e2e/test_accessibility.py), from npm at
## the version package-lock.json pins; reinstalled only when the lock file is newer.
node_modules/.package-lock.json: package.json package-lock.json
	@if ! command -v npm >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's npm for axe-core"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; \
	  else \
	    echo "The accessibility tests need npm: sudo apt-get install -y npm"; exit 1; \
	  fi; \
	fi
	npm ci --no-audit --no-fund
	touch $@

## The whole suite, on SQLite unless TEST_DATABASE_URL names a PostgreSQL database.
test: $(STAMP) chromium nginx node_modules/.package-lock.json $(MO_FILES)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## The suite against the local PostgreSQL (127.0.0.1:5432, database test).
test-postgres: $(STAMP) chromium nginx node_modules/.package-lock.json $(MO_FILES)
	TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test $(BIN)/python -m pytest $(PYTEST_ARGS)

worker: $(STAMP) $(MO_FILES)
	$(FLASK) worker

## The production stack on 127.0.0.1 (nginx, gunicorn, a mail worker) on the local PostgreSQL's
## database petitions_stack, with demo data; Ctrl-C stops it. Options via STACK_ARGS, e.g.
## make stack STACK_ARGS='--instances 2 --mail-workers 2 --redis redis://127.0.0.1:6379/0'
stack: $(STAMP) nginx $(MO_FILES)
	$(BIN)/python deploy/loopback.py $(STACK_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Load benchmark on the local PostgreSQL (see BENCHMARKS.md); by hand only, not in CI.
## Options via BENCH_ARGS, e.g. make bench BENCH_ARGS='--signatures 300 --read-seconds 5'
bench: $(STAMP)
	$(BIN)/python bench/load.py $(BENCH_ARGS)

## Do sign, reset and sign-up answer in the same time for every address (see BENCHMARKS.md)?
## By hand only; e.g. make bench-timing BENCH_ARGS='--requests 100 --endpoints sign,reset'
bench-timing: $(STAMP)
	$(BIN)/python bench/timing.py $(BENCH_ARGS)

## Open-data numbers at scale on the local PostgreSQL (see BENCHMARKS.md); by hand only.
## e.g. make bench-opendata BENCH_ARGS='--signatures 200000 --seconds 3'
bench-opendata: $(STAMP)
	$(BIN)/python bench/opendata.py $(BENCH_ARGS)

## Public reads at 1,000, 1 M (and with BENCH_ARGS=--ten-million 10 M) signatures on the local
## PostgreSQL (database petitions_scale, dropped and rebuilt); by hand only, see README.
bench-scale: $(STAMP)
	$(BIN)/python bench/scale.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache node_modules
