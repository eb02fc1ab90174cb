"""Every system check the package runs, in its users' words: what raises it and what to do.

The reference page of the documentation (``docs/reference/checks.md``) is generated from
this table, and ``tests/test_check_catalogue.py`` holds it to the ids the checks use: a
check added without a line here, or a line left for a check that is gone, fails the suite.
"""

from __future__ import annotations

#: id -> when it is raised. The id's letter says the level: E is an Error, W a Warning.
CHECKS: dict[str, str] = {
    "captchala_django.E001": "`CAPTCHALA_APP_KEY` missing, under `manage.py check --deploy` "
    "only (not while the sandbox is on)",
    "captchala_django.E002": "`CAPTCHALA_APP_SECRET` missing, likewise",
    "captchala_django.W005": "`CAPTCHALA_APP_KEY` missing on a development site (`DEBUG` on, "
    "the sandbox off), outside `check --deploy` (where E001 says it) and test runs; nothing "
    "with `DEBUG` off, so `migrate` and `collectstatic` in builds without secrets stay quiet",
    "captchala_django.W006": "`CAPTCHALA_APP_SECRET` missing, likewise",
    "captchala_django.E003": "the sandbox is on while `DEBUG` is off (every command, "
    "`runserver` and `migrate` included; not in test runs, where Django's runner turns "
    "`DEBUG` off itself)",
    "captchala_django.W003": "the sandbox is forced on with `DEBUG` off "
    "(`CAPTCHALA_SANDBOX_FORCE`)",
    "captchala_django.W014": "the sandbox is on but `CAPTCHALA_API_URL`, "
    "`CAPTCHALA_OFFLINE_API_URL` or `CAPTCHALA_LOADER_URL` still has its default, CaptchaLa's "
    "own address: offline, every widget and check would fail (not in test runs)",
    "captchala_django.E004": "`CAPTCHALA_TIMEOUT` not in (0, 30]",
    "captchala_django.E005": "`CAPTCHALA_CHECKPOINT_TTL` not in (0, 7 days]",
    "captchala_django.E006": "`CAPTCHALA_ON_PROVIDER_ERROR` not `deny` or `allow`",
    "captchala_django.E007": "`CAPTCHALA_ON_PERSISTENCE_ERROR` not `deny` or `allow`",
    "captchala_django.E008": "`CAPTCHALA_DEFAULT_SCOPE` neither a known kind nor an "
    "importable callable",
    "captchala_django.E009": "an environment variable of a setting cannot be parsed",
    "captchala_django.E010": "`CAPTCHALA_WIDGET` not a dict of the loader's options "
    "(`product`, `lang`, `theme`) with a known `product`",
    "captchala_django.E011": "`CAPTCHALA_TRUSTED_PROXIES` holds something that is not an IP "
    "network",
    "captchala_django.E012": "`CAPTCHALA_MAX_RISK` neither `None` nor a whole number from 0 to 100",
    "captchala_django.E013": "`CAPTCHALA_SERVER_TOKEN_ACTIONS` maps a name to something that "
    "is not a provider action",
    "captchala_django.E014": "`CAPTCHALA_CLIENT` does not import, names a class that is not a "
    "`CaptchaLaClient` subclass, is not callable, or needs arguments",
    "captchala_django.E015": "an admin site given the check with `protect_admin_login` had its "
    "`login_form` replaced afterwards by a form without a `CaptchaLaField` (call the line "
    "after whatever sets it)",
    "captchala_django.E016": "`CAPTCHALA_STEP_UP` is not a dict of `username`, `address`, "
    "`session` (each a positive whole number or `None`) and `window` (seconds)",
    "captchala_django.E017": "`CAPTCHALA_UNDER_ATTACK` is not a dict of `auto` (a bool), "
    "`window`, `floor` and `ceiling` (seconds, `floor` not above `ceiling`)",
    "captchala_django.E018": "`CAPTCHALA_ADDRESS_STORAGE` is not one of `full`, "
    "`truncated`, `hashed`, `none`",
    "captchala_django.E019": "`CAPTCHALA_RETENTION` is not a dict of `records` (seconds, at "
    "least 3600) and `counters` (seconds, 0 or more)",
    "captchala_django.E020": "`CAPTCHALA_KEYS_RESOLVER` does not import, or names something "
    "that is not callable",
    "captchala_django.W001": "the checkpoint database is SQLite without `transaction_mode: "
    "IMMEDIATE`, with `DEBUG` off (a development server rarely has concurrent writers), "
    "outside test runs",
    "captchala_django.W004": "`CAPTCHALA_API_URL` or `CAPTCHALA_OFFLINE_API_URL` is plain "
    "`http://` to a host that is not loopback while the sandbox is off (the secret travels in "
    "a header)",
    "captchala_django.W007": "a field, widget, decorator, mixin or DRF view's action is neither "
    "the provider's nor mapped in `CAPTCHALA_SERVER_TOKEN_ACTIONS` (it shares `generic_form` "
    "with every other such name)",
    "captchala_django.W008": "`CAPTCHALA_CHECKPOINT_TTL` outlives the session a `session` "
    "scope binds it to (`SESSION_COOKIE_AGE`)",
    "captchala_django.W009": "`CAPTCHALA_RETRY_WINDOW` is shorter than `CAPTCHALA_TIMEOUT` + "
    "`CAPTCHALA_CLAIM_MARGIN`: a user resubmitting during a slow check would be refused as a "
    "replay",
    "captchala_django.W010": "server tokens are on (they live 300 s) but the URLconf has no "
    "refresh endpoint (`captchala_django.urls`), so a page left open longer cannot renew its "
    "widget",
    "captchala_django.W011": '`CAPTCHALA_DEFAULT_SCOPE` is `"session"` and no '
    "`SessionMiddleware` is installed: a pass keeps nothing (use the `user` or `ip` scope, or "
    "add the middleware)",
    "captchala_django.W012": "`CAPTCHALA_CACHE` is `LocMemCache` or `DummyCache` (each process "
    "counts its own budgets), or `DatabaseCache` or `FileBasedCache` (counts made at once by "
    "several processes are lost), with `DEBUG` off and outside test runs: name a shared, "
    "atomic cache such as Redis",
    "captchala_django.W013": "a form class has a `CaptchaLaField` but takes no `request` "
    "(neither an `AuthenticationForm` nor `CaptchaLaFormMixin`), and `MIDDLEWARE` has neither "
    "`captchala_django.middleware.RequestContextMiddleware` nor django-allauth's "
    "`AccountMiddleware`: its first render raises `ImproperlyConfigured` and every submission "
    "is refused",
}


def level(check_id: str) -> str:
    """``"Error"`` or ``"Warning"``, from the id's letter."""
    return {"E": "Error", "W": "Warning"}[check_id.rsplit(".", 1)[1][0]]
