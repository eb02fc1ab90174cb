"""Settings of the example project, read from the environment and ``.env``.

``.env.example`` documents every variable. With no ``.env`` at all the demo
runs offline: DEBUG on, SQLite, and the local CaptchaLa sandbox mounted at
``/captchala-sandbox/``.
"""

from pathlib import Path

import django
import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

PORT = env.int("DEMO_PORT", default=8000)
SITE_URL = env.str("DEMO_SITE_URL", default=f"http://127.0.0.1:{PORT}")

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="demo-only-not-a-secret")
DEBUG = env.bool("DJANGO_DEBUG", default=True)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "demo",  # before captchala_django: its templates override the package's challenge page
    "captchala_django",
]
# DEMO_PACKAGE_PAGES=1 shows the package's own challenge and try-again pages (what a site
# that does not override them serves) instead of the demo's: the browser tests audit both.
if env.bool("DEMO_PACKAGE_PAGES", default=False):
    INSTALLED_APPS.remove("demo")
    INSTALLED_APPS.append("demo")
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before the sessions: a session that cannot be saved in an outage is a 503, not a 400.
    "demo.middleware.SessionWriteFailedMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Keeps the request for forms that are not given it (a CaptchaLaField finds it there).
    "captchala_django.middleware.RequestContextMiddleware",
    # Last, so that it sees what the views and their templates raise.
    "demo.middleware.DatabaseUnavailableMiddleware",
]
try:
    import rest_framework  # noqa: F401 - the optional "drf" extra
except ImportError:
    pass
else:
    INSTALLED_APPS.append("rest_framework")
try:
    import django_htmx  # noqa: F401 - serves htmx itself to the demo's /htmx/ page
except ImportError:
    pass
else:
    INSTALLED_APPS.append("django_htmx")

ROOT_URLCONF = "example_project.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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
WSGI_APPLICATION = "example_project.wsgi.application"

# SQLite by default; DATABASE_URL=postgres://... for PostgreSQL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'demo.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent writers wait for each other instead of failing with
    # "database is locked" (transaction_mode needs Django 5.1+).
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    if django.VERSION >= (5, 1):
        DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"

# Behind PgBouncer in transaction pooling (DATABASE_PGBOUNCER=1): no persistent connections,
# and no server-side cursors (a cursor cannot outlive the transaction that opened it).
if env.bool("DATABASE_PGBOUNCER", default=False):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True

# Local memory by default; with several processes, a shared cache (the server-token budget
# is counted there): CACHE_URL=redis://127.0.0.1:6379/0
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
SESSION_ENGINE = "demo.sessions"

AUTH_PASSWORD_VALIDATORS = []
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# CaptchaLa. In the demo the sandbox stands in for the real service: the keys
# may stay empty (the sandbox's own are used) and both URLs point at it.
CAPTCHALA_SANDBOX = env.bool("CAPTCHALA_SANDBOX", default=DEBUG)
_sandbox_url = f"{SITE_URL}/captchala-sandbox"
CAPTCHALA_APP_KEY = env.str("CAPTCHALA_APP_KEY", default="")
CAPTCHALA_APP_SECRET = env.str("CAPTCHALA_APP_SECRET", default="")
CAPTCHALA_API_URL = env.str(
    "CAPTCHALA_API_URL", default=_sandbox_url if CAPTCHALA_SANDBOX else "https://apiv1.captcha.la"
)
CAPTCHALA_OFFLINE_API_URL = env.str(
    "CAPTCHALA_OFFLINE_API_URL",
    default=f"{_sandbox_url}/api/validate"
    if CAPTCHALA_SANDBOX
    else "https://fallbackapiv1.captchala.com/api/validate",
)
CAPTCHALA_LOADER_URL = env.str(
    "CAPTCHALA_LOADER_URL",
    default=f"{_sandbox_url}/captchala-loader.js"
    if CAPTCHALA_SANDBOX
    else "https://cdn.captcha-cdn.net/captchala-loader.js",
)
# The login form asks for the check only after failed attempts (its step_up); 0: on every login.
DEMO_STEP_UP = env.bool("DEMO_STEP_UP", default=True)

# "transfer" is this site's name; the provider issues server tokens for its own list.
CAPTCHALA_SERVER_TOKEN_ACTIONS = {"transfer": "checkout"}

# DEMO_CSP=1 serves every page under a strict Content-Security-Policy: scripts and styles from
# this site or with the request's nonce, nothing inline, no eval. Django's own middleware on
# 6.0+, django-csp before. The widget puts the nonce on its script tags itself.
DEMO_CSP = env.bool("DEMO_CSP", default=False)
# DEMO_METRICS=1 serves /metrics/ with DEBUG off too (the soak scrapes its workers there).
DEMO_METRICS = env.bool("DEMO_METRICS", default=False)
if DEMO_CSP:
    from urllib.parse import urlsplit

    def _origins(*urls: str) -> list[str]:
        """The provider's origins (none with the sandbox, which is this site)."""
        site = urlsplit(SITE_URL)
        found = []
        for url in urls:
            parts = urlsplit(url)
            if (parts.scheme, parts.netloc) != (site.scheme, site.netloc):
                found.append(f"{parts.scheme}://{parts.netloc}")
        return sorted(set(found))

    _provider = _origins(CAPTCHALA_LOADER_URL, CAPTCHALA_API_URL, CAPTCHALA_OFFLINE_API_URL)
    if django.VERSION >= (6, 0):
        from django.utils.csp import CSP

        SELF, NONCE, NONE = CSP.SELF, CSP.NONCE, CSP.NONE
        MIDDLEWARE.insert(1, "django.middleware.csp.ContentSecurityPolicyMiddleware")
    else:
        from csp.constants import NONCE, NONE, SELF

        INSTALLED_APPS.append("csp")
        MIDDLEWARE.insert(1, "csp.middleware.CSPMiddleware")
    _directives = {
        "default-src": [SELF],
        "script-src": [SELF, NONCE, *_provider],
        "style-src": [SELF, NONCE, *_provider],
        "img-src": [SELF, "data:", *_provider],
        "connect-src": [SELF, *_provider],
        "frame-src": [SELF, *_provider],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [SELF],
    }
    if django.VERSION >= (6, 0):
        SECURE_CSP = _directives
    else:
        CONTENT_SECURITY_POLICY = {"DIRECTIVES": _directives}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"captchala_django": {"handlers": ["console"], "level": "INFO"}},
}
