"""The admin login with the check, in one line: ``protect_admin_login(admin.site)``."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core import checks

from .fields import CaptchaLaField

#: The admin's login template that renders every field of the form (Django's own renders
#: only the username and password).
LOGIN_TEMPLATE = "captchala_django/admin_login.html"

#: The sites given the check, for system check E015.
_protected: list[admin.AdminSite] = []


def _checks(form: type | None) -> bool:
    fields = getattr(form, "base_fields", {})
    return any(isinstance(f, CaptchaLaField) for f in fields.values())


def protect_admin_login(
    site: admin.AdminSite | None = None, *, action: str = "login", **field_options: Any
) -> admin.AdminSite:
    """Give ``site`` (default ``admin.site``, or any ``AdminSite``) a login form with a
    ``CaptchaLaField`` and a template that renders it; returns the site.

    The site's own ``login_form`` is kept and extended (default:
    ``AdminAuthenticationForm``); a form that has a ``CaptchaLaField`` already is left
    as it is. A custom ``login_template`` is kept too: it must render the form's
    fields (``captchala_django/admin_login.html`` shows how). ``field_options`` go to
    the field (``scope``, ``max_risk``, ``product``...). Call it where the site's URLs
    are wired (``urls.py``): once per process is enough, twice changes nothing.
    """
    site = site if site is not None else admin.site
    base = site.login_form or AdminAuthenticationForm
    if not _checks(base):
        attrs = {"__module__": __name__, "captcha": CaptchaLaField(action=action, **field_options)}
        site.login_form = type(f"CaptchaLa{base.__name__}", (base,), attrs)
    if site.login_template is None:
        site.login_template = LOGIN_TEMPLATE
    if not any(s is site for s in _protected):
        _protected.append(site)
    return site


@checks.register(checks.Tags.security)
def check_protected_admin_logins(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """E015: a site given the check whose ``login_form`` was replaced afterwards (a later
    ``login_form =``, an app's ``admin.py``, a two-factor package): its login is unchecked."""
    return [
        checks.Error(
            f"The admin site {site.name!r} was given the check (protect_admin_login), but its "
            f"login_form was replaced afterwards by {site.login_form!r}, which has no "
            "CaptchaLaField: its login page is not checked.",
            hint="Call protect_admin_login(site) after whatever sets site.login_form "
            "(it keeps that form and adds the field).",
            obj=site,
            id="captchala_django.E015",
        )
        for site in _protected
        if not _checks(site.login_form)
    ]
