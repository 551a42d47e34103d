# exportsite — see README.md. Every target creates the virtualenv it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
ADDR ?= 127.0.0.1:8000
DEMO_ENTRIES ?= 20000
PG_URL ?= postgres://postgres@127.0.0.1:5432/exportsite
REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test test-sqlite test-postgres lint typecheck format bench clean

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

## run: the service with demo data (SQLite, in-process worker unless DRAMATIQ_BROKER_URL is set)
run: export DJANGO_DEBUG ?= 1
run: $(VENV)/.installed-dev
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_data --if-empty --entries $(DEMO_ENTRIES)
	$(PY) manage.py demo_user
	@$(PY) manage.py demo_banner --addr $(ADDR)
	$(PY) manage.py serve $(ADDR)

## test: lint, then the whole suite twice: SQLite + in-memory broker + local files;
##       PostgreSQL + Redis broker + S3 (moto server)
test: lint test-sqlite test-postgres

test-sqlite: $(VENV)/.installed-dev
	env -u DATABASE_URL -u DRAMATIQ_BROKER_URL -u EXPORTSITE_TEST_S3 $(PY) -m pytest -q -p no:cacheprovider

test-postgres: $(VENV)/.installed-dev
	DATABASE_URL=$(PG_URL) DRAMATIQ_BROKER_URL=$(REDIS_URL) EXPORTSITE_TEST_S3=1 \
		$(PY) -m pytest -q -p no:cacheprovider

## lint: ruff (lint + format check), then mypy
lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(MAKE) --no-print-directory typecheck

## typecheck: mypy with django-stubs + djangorestframework-stubs (config: pyproject.toml [tool.mypy]).
##            The Django plugin loads tests.settings, so the same environment as test-sqlite.
typecheck: $(VENV)/.installed-dev
	env -u DATABASE_URL -u DRAMATIQ_BROKER_URL -u EXPORTSITE_TEST_S3 $(VENV)/bin/mypy

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## bench: the hot-path benchmark against the machine's PostgreSQL (see bench/README.md)
bench: $(VENV)/.installed-dev
	DATABASE_URL=$(PG_URL) $(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf var out .pytest_cache
