"""Benchmarks run with the test settings (PostgreSQL when DATABASE_URL is set)."""

import os

os.environ.setdefault(
    "CAPTCHALA_TEST_DB", "postgres" if os.environ.get("DATABASE_URL") else "sqlite"
)

from tests.settings import *  # noqa: E402,F403

# Decision lines of the floods would drown the figures: only errors are printed.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {"captchala_django": {"level": "ERROR"}},
}
ALLOWED_HOSTS = ["testserver"]
ROOT_URLCONF = "bench.urls"
