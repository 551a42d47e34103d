# exportsite — see README.md. Every target creates the virtualenv it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
ADDR ?= 127.0.0.1:8000
DEMO_ENTRIES ?= 20000
PG_URL ?= postgres://postgres@127.0.0.1:5432/exportsite
REDIS_URL ?= redis://127.0.0.1:6379/15
CACHE_URL ?= redis://127.0.0.1:6379/14

.PHONY: run test test-sqlite test-postgres lint typecheck format audit lock bench soak diagrams clean

# requirements.txt (runtime) and requirements-dev.txt (runtime + test/dev, same versions) are
# hashed locks made by `make lock` from the .in files. --require-hashes refuses any file whose
# hash is not locked (pip itself is in the dev lock too); --only-binary keeps out sdist builds,
# whose build dependencies pip would fetch without hashes.
$(VENV)/.installed-dev: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --require-hashes --only-binary :all: -r requirements-dev.txt
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
	env -u DATABASE_URL -u DRAMATIQ_BROKER_URL -u DJANGO_CACHE_URL -u EXPORTSITE_TEST_S3 $(PY) -m pytest -q -p no:cacheprovider

test-postgres: $(VENV)/.installed-dev
	DATABASE_URL=$(PG_URL) DRAMATIQ_BROKER_URL=$(REDIS_URL) DJANGO_CACHE_URL=$(CACHE_URL) EXPORTSITE_TEST_S3=1 \
		$(PY) -m pytest -q -p no:cacheprovider

## lint: ruff (lint + format check), the layer contracts (import-linter, pyproject.toml), then mypy
lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(MAKE) --no-print-directory typecheck

## typecheck: mypy with django-stubs + djangorestframework-stubs (config: pyproject.toml [tool.mypy]).
##            The Django plugin loads tests.settings, so the same environment as test-sqlite.
typecheck: $(VENV)/.installed-dev
	env -u DATABASE_URL -u DRAMATIQ_BROKER_URL -u EXPORTSITE_TEST_S3 $(VENV)/bin/mypy

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## audit: pip-audit over both locks: a known vulnerability with a fix fails (ignores, each with its
##        reason, are in .ci/audit.py); prints SKIPPED, exit 0, when no vulnerability source answers
audit: $(VENV)/.installed-dev
	$(PY) .ci/audit.py requirements.txt requirements-dev.txt

## lock: recompile the hashed locks from requirements.in / requirements-dev.in, keeping the locked
##       versions unless asked: LOCK_ARGS=--upgrade, or LOCK_ARGS="--upgrade-package NAME"
# Hashes come from PyPI itself (uv's default index; no pip.conf, no uv config, no index variables),
# so they match what any machine downloads; the target interpreter is the venv's Python.
UV_COMPILE = env -u UV_INDEX -u UV_INDEX_URL -u UV_DEFAULT_INDEX -u UV_EXTRA_INDEX_URL -u UV_FIND_LINKS \
	$(VENV)/bin/uv pip compile --quiet --no-config --python $(PY) --generate-hashes \
	--custom-compile-command "make lock" $(LOCK_ARGS)
lock: $(VENV)/.installed-dev
	$(UV_COMPILE) requirements.in -o requirements.txt
	$(UV_COMPILE) requirements-dev.in -o requirements-dev.txt

## bench: the hot-path benchmark against the machine's PostgreSQL (see bench/README.md)
bench: $(VENV)/.installed-dev
	DATABASE_URL=$(PG_URL) $(PY) bench/run.py $(BENCH_ARGS)

## load: API load test: locust, 100 users for 60 s against gunicorn in production mode on PostgreSQL
##       (its own database) + Redis; fails on any 5xx (see load/README.md). LOAD_ARGS=--smoke: 10 s
.PHONY: load
load: $(VENV)/.installed-dev
	DATABASE_URL=$(PG_URL) $(PY) load/run.py $(LOAD_ARGS)

## soak: the chaos soak (soak/README.md): exports of every type under random faults, 10 minutes by
##       default; SOAK_ARGS="--seconds 60 --entries 20000" is a short run
soak: $(VENV)/.installed-dev
	$(PY) soak/run.py $(SOAK_ARGS)

## diagrams: docs/diagrams/*.svg from their Graphviz sources beside them (needs `dot`)
diagrams:
	for source in docs/diagrams/*.dot; do dot -Tsvg "$$source" -o "$${source%.dot}.svg"; done

clean:
	rm -rf var out .pytest_cache
