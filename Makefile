# Two commands do all set-up: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
VENV42 := .venv-django42
PIP_FLAGS := --quiet --disable-pip-version-check
PYTEST_FLAGS ?= -q

.PHONY: test test-fast lint demo bench clean chromium

$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) --upgrade pip
	$(VENV)/bin/pip install $(PIP_FLAGS) -e ".[test,drf]" "django>=5.2,<5.3"
	touch $@

$(VENV42)/.installed: pyproject.toml
	test -d $(VENV42) || $(PYTHON) -m venv $(VENV42)
	$(VENV42)/bin/pip install $(PIP_FLAGS) --upgrade pip
	$(VENV42)/bin/pip install $(PIP_FLAGS) -e ".[test]" "django>=4.2,<5.0"
	touch $@

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check captchala_django tests bench example_project

## Debian's Chromium for the browser test (never a browser download of Playwright's own).
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || echo "chromium is not installed: the browser test will be skipped"

## The whole suite: Django 5.2 and 4.2, each on SQLite and on a throwaway PostgreSQL.
## The browser test (against the demo, which has its own SQLite) runs once, in the first run.
test: lint chromium $(VENV42)/.installed
	@echo "== Django 5.2 / SQLite (with the browser test)"
	CAPTCHALA_TEST_DB=sqlite $(VENV)/bin/pytest $(PYTEST_FLAGS)
	@echo "== Django 4.2 / SQLite"
	CAPTCHALA_TEST_DB=sqlite $(VENV42)/bin/pytest $(PYTEST_FLAGS) -m "not e2e"
	scripts/with-postgres sh -c '\
	  echo "== Django 5.2 / PostgreSQL" && \
	  CAPTCHALA_TEST_DB=postgres $(VENV)/bin/pytest $(PYTEST_FLAGS) -m "not e2e" && \
	  echo "== Django 4.2 / PostgreSQL" && \
	  CAPTCHALA_TEST_DB=postgres $(VENV42)/bin/pytest $(PYTEST_FLAGS) -m "not e2e"'

## One quick run: Django 5.2 on SQLite.
test-fast: $(VENV)/.installed
	CAPTCHALA_TEST_DB=sqlite $(VENV)/bin/pytest $(PYTEST_FLAGS)

## The example project on http://127.0.0.1:8000 with the local sandbox (offline, SQLite).
demo: $(VENV)/.installed
	cd example_project && ../$(VENV)/bin/python manage.py migrate --noinput
	cd example_project && ../$(VENV)/bin/python manage.py demo_setup
	cd example_project && ../$(VENV)/bin/python manage.py runserver 127.0.0.1:8000

## Benchmarks (figures are ratios from one run; see bench/README.md).
bench: $(VENV)/.installed
	scripts/with-postgres $(VENV)/bin/python -m bench

clean:
	rm -rf $(VENV) $(VENV42) .pytest_cache .ruff_cache *.egg-info
