# Two commands do all set-up: `make demo` and `make test`.
#
# The interpreters of the test matrix (noxfile.py). Their directories go first on PATH
# (3.11's first, so that a bare python3 stays 3.11), so that nox finds python3.10 ...
# python3.13 there and never a pyenv shim; `make pythons` fails, naming the path, when
# one is missing. For another machine: make test INTERPRETERS="/usr/bin/python3.10 ..."
INTERPRETERS ?= /root/.pyenv/versions/3.10.13/bin/python3.10 \
                /root/.pyenv/versions/3.11.7/bin/python3.11 \
                /root/.pyenv/versions/3.12.1/bin/python3.12 \
                /root/.pyenv/versions/3.13.0/bin/python3.13
empty :=
space := $(empty) $(empty)
PYTHON_DIRS := $(patsubst %/,%,$(dir $(filter %/python3.11,$(INTERPRETERS)) \
                                     $(filter-out %/python3.11,$(INTERPRETERS))))
export PATH := $(subst $(space),:,$(strip $(PYTHON_DIRS))):$(PATH)

# .venv: Python 3.11 with Django 5.2 and the developer tools (nox, ruff, build, twine,
# psycopg: the `dev` dependency group): lint, packaging, demo, bench and test-fast.
PYTHON ?= $(firstword $(filter %/python3.11,$(INTERPRETERS)) python3.11)
VENV := .venv
NOX := $(VENV)/bin/nox
PIP_FLAGS := --quiet --disable-pip-version-check
PYTEST_FLAGS ?= -q
PORT ?= 8000

.PHONY: test test-fast lint pythons nox demo demo-allauth bench soak soak-tools clean chromium docs

$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) --upgrade "pip>=25.1"
	$(VENV)/bin/pip install $(PIP_FLAGS) -e ".[test,drf]" "django>=5.2,<5.3" --group dev
	touch $@

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check captchala_django tests bench example_project noxfile.py scripts/check-dist

## Every interpreter of the matrix is there: a missing one fails with its path.
pythons:
	@for py in $(INTERPRETERS); do \
	  "$$py" -c 'import sys' 2>/dev/null \
	    || { echo "missing Python interpreter: $$py (see INTERPRETERS in the Makefile)" >&2; exit 1; }; \
	  echo "found $$py ($$("$$py" -c 'import platform; print(platform.python_version())'))"; \
	done

## Debian's Chromium for the browser test (never a browser download of Playwright's own).
## Without it `make test` fails: the 3.11 / Django 5.2 cell must run the browser test.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || { echo "chromium is not installed (apt-get install chromium): the browser test needs it" >&2; exit 1; }

## The whole check: lint, packaging, then the nox matrix (noxfile.py) in two streams at
## once: SQLite 3.11 / Django 5.2 (the browser test and the integrations), 3.10 / 5.2 and
## 3.12 / 6.0; beside them, on one throwaway PostgreSQL server, the PostgreSQL cells
## (3.11 / 5.2; 3.13 / 6.1) and SQLite 3.13 / 6.1. Every cell runs even when an earlier one
## failed; any failure fails.
## Venvs in .nox/ are reused, and reinstalled only when their dependencies change.
test: pythons chromium soak-tools lint $(VENV)/.installed
	@echo "== Translations: scripts/check-translations"
	scripts/check-translations $(VENV)/bin/python
	@echo "== Types: scripts/typecheck (mypy with django-stubs, pinned in requirements-typing.txt)"
	scripts/typecheck $(PYTHON)
	@echo "== Documentation: make docs (Sphinx, warnings as errors)"
	$(MAKE) --no-print-directory docs
	@echo "== Packaging: build, twine check --strict, sdist and wheel contents"
	$(VENV)/bin/python scripts/check-dist
	@echo "== Test matrix: two streams at once, one per core (noxfile.py, stream-a and stream-b)"
	@mkdir -p .nox; status=0; \
	scripts/with-postgres $(NOX) -t stream-b -- $(PYTEST_FLAGS) > .nox/stream-b.log 2>&1 & b=$$!; \
	$(NOX) -t stream-a -- $(PYTEST_FLAGS) || status=1; \
	wait $$b || status=1; \
	echo "== stream-b (the PostgreSQL cells and 3.13 / Django 6.1 on SQLite): its output"; \
	cat .nox/stream-b.log; \
	exit $$status

## One quick cell: Python 3.11, Django 5.2, SQLite, no browser (in .venv).
test-fast: $(VENV)/.installed
	CAPTCHALA_TEST_DB=sqlite $(VENV)/bin/pytest $(PYTEST_FLAGS) -m "not e2e" --ignore=tests/e2e

## nox by hand, with the matrix's interpreters on PATH: make nox ARGS='-s "tests(3.13-django6.1-sqlite)"'
nox: pythons $(VENV)/.installed
	$(NOX) $(ARGS)

## The example project on http://127.0.0.1:$(PORT) (default 8000) with the local sandbox
## (offline, SQLite): make demo PORT=8001
demo: $(VENV)/.installed
	cd example_project && DEMO_PORT=$(PORT) ../$(VENV)/bin/python manage.py migrate --noinput
	cd example_project && DEMO_PORT=$(PORT) ../$(VENV)/bin/python manage.py demo_setup
	cd example_project && DEMO_PORT=$(PORT) ../$(VENV)/bin/python manage.py runserver 127.0.0.1:$(PORT)

## The same demo with django-allauth's login, signup and password reset under /accounts/,
## each form with the check (example_project/settings_allauth.py): make demo-allauth
demo-allauth: $(VENV)/.installed
	cd example_project && DEMO_PORT=$(PORT) ../$(VENV)/bin/python manage.py migrate --noinput --settings example_project.settings_allauth
	cd example_project && DEMO_PORT=$(PORT) ../$(VENV)/bin/python manage.py demo_setup --settings example_project.settings_allauth
	cd example_project && DEMO_PORT=$(PORT) ../$(VENV)/bin/python manage.py runserver 127.0.0.1:$(PORT) --settings example_project.settings_allauth

## PgBouncer and Redis for the soak (as root, installed with apt-get when missing).
soak-tools:
	@{ command -v pgbouncer && command -v redis-server; } >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer redis-server >/dev/null; } \
	  || { echo "pgbouncer and redis-server are not installed (apt-get install pgbouncer redis-server): the soak needs them" >&2; exit 1; }

## The production-shaped soak (bench/README.md, "Soak"): make soak DURATION=180
DURATION ?= 180
soak: soak-tools $(VENV)/.installed
	scripts/with-postgres $(VENV)/bin/python -m bench.soak --duration $(DURATION)

## Benchmarks (figures are ratios from one run; see bench/README.md).
bench: $(VENV)/.installed
	scripts/with-postgres $(VENV)/bin/python -m bench

clean:
	rm -rf $(VENV) .nox .pytest_cache .ruff_cache *.egg-info build dist

## The documentation site, warnings as errors: make docs (HTML in docs/_build/html)
DOCS_VENV := .nox/docs
docs: $(DOCS_VENV)/.installed
	$(DOCS_VENV)/bin/python -m sphinx -E -W --keep-going -q -b html docs docs/_build/html
	@echo "docs: docs/_build/html/index.html"

$(DOCS_VENV)/.installed: pyproject.toml
	test -d $(DOCS_VENV) || $(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/pip install $(PIP_FLAGS) --upgrade "pip>=25.1"
	$(DOCS_VENV)/bin/pip install $(PIP_FLAGS) -e ".[drf]" --group docs
	touch $@
