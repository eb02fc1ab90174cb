"""Server tokens for the widget, within a per-client budget of provider calls.

Issuing a server token is a provider call that anyone can cause by loading a
page or posting to the refresh endpoint, and the provider rate-limits the site
as a whole. So one client (its session, else its address) may cause at most
``CAPTCHALA_SERVER_TOKEN_BUDGET`` issue calls a minute, counted in Django's
cache (``CAPTCHALA_CACHE``; use a shared cache such as Redis when the site runs
several processes). Past it, pages render without a fresh server token and the
refresh endpoint answers 429.

The widget (on render) and the refresh endpoint both issue through
:func:`issue`; nothing else calls ``issue_server_token``.
"""

from __future__ import annotations

import ipaddress
import logging
import time

from django.core.cache import BaseCache, caches
from django.http import HttpRequest
from django.utils.crypto import salted_hmac

from .client import CaptchaLaClient, ServerToken
from .conf import app_settings
from .ip import get_client_ip, parse_ip
from .scopes import session_key_of

logger = logging.getLogger("captchala_django.server_tokens")

#: The budget's window, in seconds.
WINDOW = 60
#: Lifetime asked for each server token, in seconds.
TOKEN_TTL = 300


class BudgetExceeded(Exception):
    """This client has caused its share of issue calls for this minute."""

    def __init__(self, retry_after: int):
        super().__init__(f"server-token budget used up; retry in {retry_after}s")
        self.retry_after = retry_after


def address_block(address: str | None) -> str:
    """The address a budget is counted by: an IPv6 client by its /64, since one host is
    usually given a whole /64 and could otherwise start a fresh budget per address."""
    normal = parse_ip(address)
    if normal is None:
        return address or "unknown"
    if ":" in normal:  # IPv6 (parse_ip has made a v4-mapped address IPv4)
        return str(ipaddress.ip_network(f"{normal}/64", strict=False))
    return normal


def client_id(request: HttpRequest) -> str:
    """Who spends the budget: the session when there is one, else the client address.

    Never creates a session, so a cookieless client is counted by address; nor
    trusts a cookie whose session does not exist, so made-up cookies share it.
    """
    session = getattr(request, "session", None)
    key = session_key_of(session) if session is not None else None
    subject = f"s:{key}" if key else f"ip:{address_block(get_client_ip(request))}"
    return salted_hmac("captchala_django.budget", subject, algorithm="sha256").hexdigest()[:32]


def spend(request: HttpRequest) -> None:
    """Count one issue call for the request's client; raise ``BudgetExceeded`` past the budget.

    The budget holds over any minute, not only within a clock minute: the previous
    minute's calls count in proportion to how much of it the last 60 s still cover
    (a client cannot spend two budgets across a minute's boundary).
    """
    budget = int(app_settings.SERVER_TOKEN_BUDGET)
    now = time.time()
    slot = int(now // WINDOW)
    client = client_id(request)
    cache = caches[app_settings.CACHE]
    current = _count(cache, f"captchala:issue:{client}:{slot}")
    previous = cache.get(f"captchala:issue:{client}:{slot - 1}", 0)
    spent = current + previous * (1 - (now % WINDOW) / WINDOW)
    if spent <= budget:
        return
    if spent - 1 <= budget:  # the first refusal, not every refused call
        logger.warning(
            "server-token budget of %s a minute used up by one client; "
            "rendering without a fresh server token",
            budget,
        )
    raise BudgetExceeded(retry_after=int(WINDOW - now % WINDOW) + 1)


def _count(cache: BaseCache, key: str) -> int:
    """Add one to ``key`` and return it (calls refused too: a flood stays refused)."""
    cache.add(key, 0, timeout=WINDOW * 2)
    try:
        return int(cache.incr(key))
    except ValueError:  # evicted between add() and incr()
        cache.set(key, 1, timeout=WINDOW * 2)
        return 1


def issue(request: HttpRequest, action: str) -> ServerToken:
    """One server token for ``action``, bound to the client's address.

    Cached on the request, so several widgets of one page cost one call. Raises
    ``BudgetExceeded`` or a :class:`~captchala_django.exceptions.CaptchaLaError`.
    """
    cache = request.__dict__.setdefault("_captchala_server_tokens", {})
    if action not in cache:
        spend(request)
        cache[action] = CaptchaLaClient().issue_server_token(
            action, binding_ip=get_client_ip(request), ttl=TOKEN_TTL
        )
    return cache[action]
