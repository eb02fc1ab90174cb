"""Settings for the test suite.

``CAPTCHALA_TEST_DB=postgres`` plus ``DATABASE_URL`` runs it on PostgreSQL
(``make test`` does both); the default is a file-backed SQLite database, so
that threads get connections of their own.
"""

import os
import tempfile

import environ

env = environ.Env()

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEST_DB = env.str("CAPTCHALA_TEST_DB", default="sqlite")
if TEST_DB == "postgres":
    DATABASES = {"default": env.db("DATABASE_URL")}
    DATABASES["default"]["TEST"] = {"NAME": "captchala_test"}
else:
    _dir = os.environ.get("CAPTCHALA_TEST_TMP") or tempfile.gettempdir()
    _name = os.path.join(_dir, f"captchala-test-{os.getpid()}.sqlite3")
    # IMMEDIATE serialises concurrent writers instead of failing with "database is locked".
    _options = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _name,
            "OPTIONS": _options,
            "TEST": {"NAME": _name.replace(".sqlite3", "-test.sqlite3")},
        }
    }

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "captchala_django",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [os.path.join(os.path.dirname(__file__), "templates")],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
STATIC_URL = "/static/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Used when Django REST framework is installed (every nox cell); harmless otherwise.
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

# Nothing listens here: a test that forgets the sandbox fixture fails fast
# instead of calling the real service.
CAPTCHALA_API_URL = "http://127.0.0.1:9"
CAPTCHALA_OFFLINE_API_URL = "http://127.0.0.1:9/api/validate"
CAPTCHALA_APP_KEY = "sandbox-app-key"
CAPTCHALA_APP_SECRET = "sandbox-app-secret"
CAPTCHALA_TIMEOUT = 2.0
# The test views name "transfer", which is not a provider action (see check W007).
CAPTCHALA_SERVER_TOKEN_ACTIONS = {"transfer": "checkout"}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {"captchala_django": {"level": "DEBUG"}},
}

# A second database that plays a lagging read replica in the routing tests.
_replica = dict(DATABASES["default"])
_replica["TEST"] = dict(_replica.get("TEST", {}))
if TEST_DB == "postgres":
    _replica["TEST"]["NAME"] = "captchala_test_replica"
else:
    _replica["NAME"] = _name.replace(".sqlite3", "-replica.sqlite3")
    _replica["TEST"]["NAME"] = _name.replace(".sqlite3", "-replica-test.sqlite3")
DATABASES["replica"] = _replica
