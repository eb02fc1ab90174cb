"""django-ninja: the check on API operations, through the one guard the decorator uses.

``@decorate_view(captcha_required(action="comment"))`` under an operation's ``@api.post``
(sync or async), or ``router.add_decorator(captcha_required(...), mode="view")`` for every
operation of a router. It runs before ninja parses the body and before its own ``auth``:
the token comes from the JSON body's ``captchala_token`` or the ``X-CaptchaLa-Token``
header, and the answers are the decorator's, always as JSON: 403 ``captcha_required``,
429 ``rate_limited`` and 503 ``captcha_unavailable`` with ``Retry-After``, 400 for a body
that is not JSON.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from asgiref.sync import iscoroutinefunction

from ..challenge import JSON_ANSWERS
from ..decorators import checkpoint_required
from ..scopes import ScopeArg


def captcha_required(
    *,
    scope: ScopeArg = None,
    ttl: int | None = None,
    methods: Iterable[str] | None = None,
    action: str | None = None,
    max_risk: int | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A view decorator for ninja's ``decorate_view`` / ``add_decorator(mode="view")``;
    the arguments are ``checkpoint_required``'s (``ttl=0``: every request its own token)."""
    guard = checkpoint_required(
        scope=scope, ttl=ttl, methods=methods, action=action, max_risk=max_risk
    )

    def decorator(run: Callable[..., Any]) -> Callable[..., Any]:
        guarded = guard(run)
        if iscoroutinefunction(run):

            @functools.wraps(run)
            async def async_run(request: Any, *args: Any, **kwargs: Any) -> Any:
                setattr(request, JSON_ANSWERS, True)  # an API: never the HTML page
                return await guarded(request, *args, **kwargs)

            return async_run

        @functools.wraps(run)
        def sync_run(request: Any, *args: Any, **kwargs: Any) -> Any:
            setattr(request, JSON_ANSWERS, True)
            return guarded(request, *args, **kwargs)

        return sync_run

    return decorator
