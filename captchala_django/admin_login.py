"""The admin login with the check, in one line: ``protect_admin_login(admin.site)``."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm

from .fields import CaptchaLaField

#: The admin's login template that renders every field of the form (Django's own renders
#: only the username and password).
LOGIN_TEMPLATE = "captchala_django/admin_login.html"


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
    if not any(isinstance(f, CaptchaLaField) for f in base.base_fields.values()):
        attrs = {"__module__": __name__, "captcha": CaptchaLaField(action=action, **field_options)}
        site.login_form = type(f"CaptchaLa{base.__name__}", (base,), attrs)
    if site.login_template is None:
        site.login_template = LOGIN_TEMPLATE
    return site
