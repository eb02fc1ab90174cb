"""django-axes: the check instead of a lockout.

A lockout lets anyone lock a victim out by guessing their password. With axes counting
but never locking (``AXES_LOCK_OUT_AT_FAILURE = False``), :func:`step_up` asks for the
check once axes counts ``AXES_FAILURE_LIMIT`` failures for the request (by its
``AXES_LOCKOUT_PARAMETERS``), on top of the package's own counts (``CAPTCHALA_STEP_UP``,
which bound parallel guesses). A user who solves the check logs in with the right password;
``AXES_RESET_ON_SUCCESS = True`` lets axes forget their failures then::

    captcha = CaptchaLaField(action="login", step_up=step_up())

Needs ``pip install "captchala-django[axes]"``; imported only here.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def failure_limit_reached(request: HttpRequest, username: str | None) -> bool:
    """Whether axes counts its failure limit for this request (and ``username``)."""
    from axes.conf import settings as axes_settings
    from axes.handlers.proxy import AxesProxyHandler
    from axes.helpers import get_failure_limit

    field = axes_settings.AXES_USERNAME_FORM_FIELD
    credentials = {field: username} if username else None
    failures = AxesProxyHandler.get_failures(request, credentials)
    return bool(failures >= get_failure_limit(request, credentials))


def step_up(**thresholds: Any) -> dict[str, Any]:
    """A field's ``step_up``: ``CAPTCHALA_STEP_UP`` (``thresholds`` override it, read when
    the field is used, so that a changed setting applies), and axes' failure limit."""
    return {**thresholds, "also": failure_limit_reached}
