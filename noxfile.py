"""The test matrix: Django 5.2 LTS, 6.0 and 6.1 on Python 3.10-3.13, SQLite and PostgreSQL.

``make test`` runs every cell tagged ``ci``, in two streams at once (one per core):
``-t stream-a`` and, under ``scripts/with-postgres`` (one throwaway server for both
PostgreSQL cells), ``-t stream-b``. By hand, with the interpreters on PATH (the Makefile puts them
there; ``make nox ARGS=...`` does it for you)::

    nox -l                       # every cell; plain `nox` runs the ci ones
    nox -t ci-sqlite             # the SQLite cells of make test
    nox -t full                  # the rest of the supported matrix (SQLite)
    nox -s "tests(3.13-django6.1-sqlite)" -- -x tests/test_client.py

Tags are or-ed (``-t a b`` runs cells with either). The PostgreSQL cells need
``DATABASE_URL`` and the browser cell ``/usr/bin/chromium`` (``CAPTCHALA_CHROMIUM``):
each fails when its piece is missing rather than skip its tests.

A missing interpreter fails the run (never a skip, never a download). Virtualenvs
live in ``.nox/`` and are reused: a cell installs again only when what it would
install changed (its pip arguments, or pyproject's dependency metadata).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import nox

nox.needs_version = ">=2025.5.1"
nox.options.default_venv_backend = "virtualenv"
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True
nox.options.download_python = "never"
nox.options.stop_on_first_error = False  # run every cell, then report all failures
nox.options.tags = ["ci"]

ROOT = Path(__file__).resolve().parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
CHROMIUM = os.environ.get("CAPTCHALA_CHROMIUM", "/usr/bin/chromium")

# (python, django, database, browser test, make test's stream or None). `make test` runs
# the two streams at once, one per core: the browser cell (the longest, with the
# integrations) with two SQLite cells, and the PostgreSQL cells with the third.
CELLS = [
    ("3.11", "5.2", "sqlite", True, "a"),
    ("3.10", "5.2", "sqlite", False, "a"),
    ("3.12", "6.0", "sqlite", False, "a"),
    ("3.13", "6.1", "sqlite", False, "b"),
    ("3.11", "5.2", "postgres", False, "b"),
    ("3.13", "6.1", "postgres", False, "b"),
    # The rest of the supported matrix, for `nox -t full` (not in make test).
    ("3.12", "5.2", "sqlite", False, None),
    ("3.13", "5.2", "sqlite", False, None),
    ("3.13", "6.0", "sqlite", False, None),
    ("3.12", "6.1", "sqlite", False, None),
]


#: What each cell stores of client addresses in the abuse tests (CAPTCHALA_ADDRESS_STORAGE):
#: every mode is tried by a bot in some run of make test, on SQLite and on PostgreSQL.
ADDRESS_STORAGE = {
    ("3.10", "5.2", "sqlite"): "truncated",
    ("3.12", "6.0", "sqlite"): "hashed",
    ("3.13", "6.1", "sqlite"): "none",
    ("3.11", "5.2", "postgres"): "hashed",
    ("3.13", "6.1", "postgres"): "truncated",
}


def _param(python: str, django: str, db: str, browser: bool, stream: str | None):
    ident = f"{python}-django{django}-{db}" + ("-browser" if browser else "")
    ci = ["ci", f"ci-{db}", f"stream-{stream}"] if stream else ["full"]
    tags = [db, *ci, *(["browser"] if browser else [])]
    return nox.param(python, django, db, browser, id=ident, tags=tags)


def _install(session: nox.Session, *args: str) -> None:
    """``session.install(*args)``, skipped when this venv already has exactly that.

    The stamp covers the arguments (dependency groups are expanded into them) and the
    parts of pyproject.toml that decide what the project's install brings, so a
    dependency change reinstalls and nothing else does. ``nox --reuse-venv=no`` (or
    ``make clean``) starts the venvs afresh.
    """
    stamp = Path(session.virtualenv.location) / ".captchala-installed"
    relevant = {
        "args": args,
        "build-system": PYPROJECT.get("build-system"),
        "project": PYPROJECT.get("project"),
        "setuptools": PYPROJECT.get("tool", {}).get("setuptools"),
    }
    digest = hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()
    if stamp.is_file() and stamp.read_text() == digest:
        session.log("dependencies unchanged since the last install: not reinstalling")
        return
    stamp.unlink(missing_ok=True)
    session.install(*args)
    session.run("python", "-m", "pip", "check", silent=True)
    stamp.write_text(digest)


@nox.session
@nox.parametrize("python,django,db,browser", [_param(*cell) for cell in CELLS])
def tests(session: nox.Session, django: str, db: str, browser: bool) -> None:
    """The test suite on one Python / Django / database combination."""
    groups = []
    if db == "postgres":
        if not os.environ.get("DATABASE_URL"):
            session.error("no DATABASE_URL: run the PostgreSQL cells under scripts/with-postgres")
        # The 30-second production-shaped soak runs in the PostgreSQL cells, and must.
        groups += ["postgres", "soak"]
    if browser:
        if not shutil.which(CHROMIUM):
            session.error(f"no Chromium at {CHROMIUM} for the browser test: run `make chromium`")
        # The browser cell also carries the optional integrations (django-allauth).
        groups += ["e2e", "integrations"]
    _install(
        session,
        "-e",
        ".[test,drf]",
        f"django~={django}.0",
        *nox.project.dependency_groups(PYPROJECT, *groups),
    )
    versions = (
        "import sys, django; print('Python', sys.version.split()[0], 'Django', django.__version__)"
    )
    session.run("python", "-c", versions)
    # Cells without the browser deselect it, and leave its module (which needs
    # Playwright) uncollected, so that their skip counts show only real skips.
    markers = [] if browser else ["-m", "not e2e", "--ignore=tests/e2e"]
    env = {
        "CAPTCHALA_TEST_DB": db,
        "CAPTCHALA_SOAK_REQUIRED": "1" if db == "postgres" else "",
        "CAPTCHALA_TEST_ADDRESS_STORAGE": ADDRESS_STORAGE.get((session.python, django, db), "full"),
    }
    session.run("pytest", *markers, *(session.posargs or ["-q"]), env=env)
    if "integrations" in groups:
        # Every integration installed together, with settings of its own (tests/integrations).
        integrations = ["tests/integrations", "--ds=tests.integrations.settings"]
        session.run("pytest", *integrations, *(session.posargs or ["-q"]), env=env)
