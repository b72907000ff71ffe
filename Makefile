# Trial Finder microsite. `make help` lists the targets.
SHELL := /bin/bash
VENV := .venv
PYTHON ?= python3
PORT ?= 5000
FLASK := $(VENV)/bin/flask --app microsite
CHROME_PATH ?= /usr/bin/chromium
AUDIT_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help run serve lint translations test bench loadtest audit install install-dev clean

help: ## Show this list of targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed ## Create .venv and install the app's dependencies

install-dev: $(VENV)/.installed-dev ## Also install the test tools

# The Spanish catalog, compiled from the committed .po (the .mo is never committed).
CATALOG := microsite/translations/es/LC_MESSAGES/messages
$(CATALOG).mo: $(CATALOG).po | $(VENV)/.installed
	$(VENV)/bin/pybabel compile -d microsite/translations

translations: $(CATALOG).mo ## Compile the Spanish catalog (microsite/translations), as run, serve and test do

run: install translations ## Migrate, load sample content, serve on http://localhost:5000 (or PORT)
	$(FLASK) db upgrade
	$(FLASK) content load
	@echo "Staff area: http://localhost:$(PORT)/staff/ . Create the first staff user with:"
	@echo "    $(FLASK) staff create you@example.org"
	@echo "Serving on http://localhost:$(PORT)  (Ctrl+C to stop)"
	PORT=$(PORT) $(FLASK) run --host localhost --port $(PORT)

serve: install translations ## Migrate, then serve with gunicorn -c gunicorn.conf.py on 127.0.0.1:8000 (or PORT/BIND)
	$(FLASK) db upgrade
	exec $(VENV)/bin/gunicorn -c gunicorn.conf.py

lint: install-dev ## Check the Python code with ruff (lint rules and formatting, pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint translations ## ruff, the Spanish catalog check (tools/catalog_check.py), then the whole test suite with branch coverage: on SQLite, and at the same time on PostgreSQL if TEST_DATABASE_URL is set
	$(VENV)/bin/python -m tools.catalog_check
	@if [ -z "$$TEST_DATABASE_URL" ] && [ "$$CI" != true ]; then \
		echo "$(VENV)/bin/pytest"; \
		$(VENV)/bin/pytest || exit 1; \
		echo "The PostgreSQL run was skipped: set TEST_DATABASE_URL, e.g. to postgresql+psycopg://postgres@127.0.0.1:5433/microsite_test, to run the suite on PostgreSQL as well (README, Tests)."; \
		exit 0; \
	fi; \
	echo "The whole suite on SQLite and, at the same time, on PostgreSQL (TEST_DATABASE_URL): one run per core."; \
	echo "The PostgreSQL run's output follows the SQLite run's; coverage adds up over both runs."; \
	mkdir -p test-artifacts; rm -f .coverage .coverage.sqlite .coverage.postgresql; \
	COVERAGE_FILE=.coverage.postgresql $(VENV)/bin/pytest --database=postgresql --cov-report= --cov-fail-under=0 \
		>test-artifacts/postgresql-run.log 2>&1 & postgresql=$$!; \
	trap 'kill $$postgresql 2>/dev/null' EXIT; \
	echo "$(VENV)/bin/pytest (SQLite)"; \
	COVERAGE_FILE=.coverage.sqlite $(VENV)/bin/pytest --cov-report= --cov-fail-under=0; sqlite_status=$$?; \
	wait $$postgresql; postgresql_status=$$?; trap - EXIT; \
	echo "$(VENV)/bin/pytest --database=postgresql (test-artifacts/postgresql-run.log)"; \
	cat test-artifacts/postgresql-run.log; \
	echo "SQLite run: exit $$sqlite_status; PostgreSQL run: exit $$postgresql_status. Coverage of both runs:"; \
	$(VENV)/bin/coverage combine --quiet .coverage.sqlite .coverage.postgresql \
		&& $(VENV)/bin/coverage report --fail-under=90 || exit 1; \
	[ $$sqlite_status -eq 0 ] && [ $$postgresql_status -eq 0 ]

BENCHES := export http trials places alerts profile
# Every benchmark of one `make bench` appends its rows (bench/results.py) to this fresh file;
# the run ends with them printed as one table.
BENCH_RESULTS_FILE := test-artifacts/bench-results-$(shell date -u +%Y%m%dT%H%M%SZ).jsonl
bench: export BENCH_RESULTS = $(abspath $(BENCH_RESULTS_FILE))

bench: install ## Benchmarks, then one table of every measure (figure, baseline, ratio, spread, target, PASS or MISS): CSV export vs sqlite3 -csv, HTTP (wrk: pages vs hello-world, apply flow vs a baseline app, CPU per application), trial import and matching, postal-code import, flask alerts send; BENCH=export|http|trials|places|alerts|profile runs one (profile: cProfile of the application POST, not in the default run)
	@case "$(BENCH)" in ""|all|export|http|trials|places|alerts|profile) ;; *) echo "BENCH must be one of: $(BENCHES), all; not $(BENCH)"; exit 1;; esac
	@mkdir -p test-artifacts && : >"$$BENCH_RESULTS"
	@if [ "$(BENCH)" = "" ] || [ "$(BENCH)" = all ] || [ "$(BENCH)" = export ]; then \
		command -v sqlite3 >/dev/null || { echo "bench needs the sqlite3 command: install it with: apt-get install -y sqlite3"; exit 1; }; \
		echo "$(VENV)/bin/python -m bench.export $(EXPORT_BENCH_ARGS)"; \
		$(VENV)/bin/python -m bench.export $(EXPORT_BENCH_ARGS) || exit 1; \
	fi
	@if [ "$(BENCH)" = "" ] || [ "$(BENCH)" = all ] || [ "$(BENCH)" = http ]; then \
		command -v wrk >/dev/null || { echo "bench needs wrk: install it with: apt-get install -y wrk"; exit 1; }; \
		echo "$(VENV)/bin/python -m bench.http_pages $(HTTP_BENCH_ARGS)"; \
		$(VENV)/bin/python -m bench.http_pages $(HTTP_BENCH_ARGS) || exit 1; \
	fi
	@if [ "$(BENCH)" = "" ] || [ "$(BENCH)" = all ] || [ "$(BENCH)" = trials ]; then \
		echo "$(VENV)/bin/python -m bench.trials_import"; \
		$(VENV)/bin/python -m bench.trials_import || exit 1; \
		echo "$(VENV)/bin/python -m bench.matching $(MATCHING_BENCH_ARGS)"; \
		$(VENV)/bin/python -m bench.matching $(MATCHING_BENCH_ARGS) || exit 1; \
	fi
	@if [ "$(BENCH)" = "" ] || [ "$(BENCH)" = all ] || [ "$(BENCH)" = places ]; then \
		echo "$(VENV)/bin/python -m bench.places_import $(PLACES_BENCH_ARGS)"; \
		$(VENV)/bin/python -m bench.places_import $(PLACES_BENCH_ARGS) || exit 1; \
	fi
	@if [ "$(BENCH)" = "" ] || [ "$(BENCH)" = all ] || [ "$(BENCH)" = alerts ]; then \
		echo "$(VENV)/bin/python -m bench.alerts $(ALERTS_BENCH_ARGS)"; \
		$(VENV)/bin/python -m bench.alerts $(ALERTS_BENCH_ARGS) || exit 1; \
	fi
	@if [ "$(BENCH)" = profile ]; then \
		echo "$(VENV)/bin/python -m bench.apply_profile $(PROFILE_BENCH_ARGS)"; \
		$(VENV)/bin/python -m bench.apply_profile $(PROFILE_BENCH_ARGS) || exit 1; \
	fi
	@echo; echo "$(VENV)/bin/python -m bench.results $(BENCH_RESULTS_FILE)"
	@$(VENV)/bin/python -m bench.results $(BENCH_RESULTS_FILE)

loadtest: install ## Load and fault tests on gunicorn: 2,000 applications (SQLite; two instances on PostgreSQL and Redis), a killed worker, a reload, the database stopped
	$(VENV)/bin/python -m loadtest $(LOADTEST)

# npm writes node_modules/.package-lock.json on every install: it is the stamp.
audit/node_modules/.package-lock.json: audit/package.json audit/package-lock.json
	npm ci --prefix audit --no-audit --no-fund

audit: install ## Lighthouse scores of /, /apply, /share, /privacy and a trial page, in English and Spanish (needs Node.js 18.16+ and Chromium)
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "audit needs Node.js 18.16 or later and npm: apt-get install -y nodejs npm"; exit 1; }
	@node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 18 || (a == 18 && b >= 16) ? 0 : 1)' || { echo "audit needs Node.js 18.16 or later (Lighthouse 12), not $$(node --version)"; exit 1; }
	@test -x "$(CHROME_PATH)" || { echo "audit needs Chromium at $(CHROME_PATH): apt-get install -y chromium (or set CHROME_PATH)"; exit 1; }
	@$(MAKE) --no-print-directory audit/node_modules/.package-lock.json
	CHROME_PATH="$(CHROME_PATH)" $(VENV)/bin/python -m audit.run_audit $(AUDIT_ARGS)

clean: ## Remove .venv, caches and test artefacts (keeps instance/ data)
	rm -rf $(VENV) .pytest_cache .hypothesis .coverage htmlcov test-artifacts
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
