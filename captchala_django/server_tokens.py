"""Server tokens for the widget, within a per-client budget of provider calls.

Issuing a server token is a provider call that anyone can cause by loading a
page or posting to the refresh endpoint, and the provider rate-limits the site
as a whole. So each issue call is charged to the client's budget
(:func:`captchala_django.budgets.spend_issue`). Past it, pages render without a
fresh server token and the refresh endpoint answers 429; when the budget's cache
is down, the same pages render without one and the endpoint answers 503.

The widget (on render) and the refresh endpoint both issue through
:func:`issue`; nothing else calls ``issue_server_token``.
"""

from __future__ import annotations

from django.http import HttpRequest

from .budgets import spend_issue
from .client import ServerToken, get_client
from .exceptions import BudgetExceeded, BudgetUnavailable
from .ip import get_client_ip

__all__ = ["TOKEN_TTL", "BudgetExceeded", "BudgetUnavailable", "issue"]

#: Lifetime asked for each server token, in seconds.
TOKEN_TTL = 300


def issue(request: HttpRequest, action: str) -> ServerToken:
    """One server token for ``action``, bound to the client's address.

    Cached on the request, so several widgets of one page cost one call. Raises
    ``BudgetExceeded`` (``BudgetUnavailable`` when the budget cannot be counted) or
    a :class:`~captchala_django.exceptions.CaptchaLaError`.
    """
    cache: dict[str, ServerToken] = request.__dict__.setdefault("_captchala_server_tokens", {})
    if action not in cache:
        spend_issue(request)
        cache[action] = get_client(request).issue_server_token(
            action, binding_ip=get_client_ip(request), ttl=TOKEN_TTL
        )
    return cache[action]
