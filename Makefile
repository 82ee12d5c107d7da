# StayOS developer commands. `make run` and `make test` bootstrap everything on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements/*.txt | sha1sum | cut -c1-12)

.PHONY: run test bench services stop lint format migrations-check clean

$(STAMP): requirements/base.txt requirements/dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	rm -f $(VENV)/.installed-* && touch $@

## run: local PostgreSQL + Redis if needed, migrate, seed, then web + Celery worker + beat
run: $(STAMP)
	./scripts/with-services.sh ./scripts/run.sh

## test: the whole test suite against a real PostgreSQL (what CI runs), the browser test included
test: $(STAMP)
	./scripts/ensure-browser.sh
	./scripts/with-services.sh $(PY) -m pytest $(PYTEST_ARGS)

## bench: benchmarks, each printing ratios against a baseline measured in the same run
bench: $(STAMP)
	./scripts/with-services.sh $(PY) -m benchmarks

## services: start the local PostgreSQL and Redis under .local/ and leave them running
services:
	./scripts/services.sh start
	./scripts/services.sh status

## stop: stop the local PostgreSQL and Redis
stop:
	./scripts/services.sh stop

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## migrations-check: no model change without its migration
migrations-check: $(STAMP)
	./scripts/with-services.sh sh -c '$(PY) manage.py makemigrations --check --dry-run && $(PY) manage.py pgmakemigrations --check --dry-run'

clean: stop
	rm -rf .local $(VENV)
