"""``{% captchala_dashboard %}``: the dashboard on the app's admin index page.

Rendered for staff who may view checkpoints (the view or change permission, as
the admin itself decides); an empty string for anyone else. It needs nothing
from the ``AdminSite``, so it works on the default site and on custom ones.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from ..insights.dashboard import dashboard_data

register = template.Library()

PERMISSIONS = ("captchala_django.view_checkpoint", "captchala_django.change_checkpoint")


def may_view(user: Any) -> bool:
    """Whether ``user`` may see the dashboard: active staff who may view checkpoints."""
    return bool(
        user is not None
        and user.is_active
        and user.is_staff
        and any(user.has_perm(name) for name in PERMISSIONS)
    )


@register.simple_tag(takes_context=True)
def captchala_dashboard(context: template.Context) -> SafeString | str:
    request = context.get("request")
    if not may_view(getattr(request, "user", None)):
        return ""
    return render_to_string("captchala_django/dashboard.html", {"board": dashboard_data()})
