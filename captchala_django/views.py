"""A small endpoint that re-issues a server token when the browser reports it expired."""

from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_POST

from . import server_tokens
from .actions import KNOWN_ACTIONS
from .exceptions import CaptchaLaError, ConfigurationError
from .guard import RETRY_AFTER

logger = logging.getLogger("captchala_django.views")


@require_POST
def server_token(request: HttpRequest) -> JsonResponse:
    """``POST action=<name>``: a fresh server token, within the client's budget.

    200 ``{"server_token", "expires_in"}``; 400 for an unknown action; 429 past
    the budget, 503 when CaptchaLa cannot issue one or the budget's cache is down,
    both with ``Retry-After``.
    Never cached.
    """
    action = request.POST.get("action", "")
    if action not in KNOWN_ACTIONS:
        response = JsonResponse({"error": "invalid_action"}, status=400)
    else:
        try:
            token = server_tokens.issue(request, action)
        except server_tokens.BudgetUnavailable as exc:
            # Nothing can be counted: no provider call, and "later", not "too many".
            response = JsonResponse({"error": "unavailable"}, status=503)
            response["Retry-After"] = str(exc.retry_after)
        except server_tokens.BudgetExceeded as exc:
            response = JsonResponse({"error": "rate_limited"}, status=429)
            response["Retry-After"] = str(exc.retry_after)
        except CaptchaLaError as exc:
            level = logging.ERROR if isinstance(exc, ConfigurationError) else logging.WARNING
            logger.log(level, "could not re-issue a server token: %s", exc)
            response = JsonResponse({"error": "unavailable"}, status=503)
            response["Retry-After"] = str(RETRY_AFTER)
        else:
            response = JsonResponse({"server_token": token.token, "expires_in": token.expires_in})
    add_never_cache_headers(response)
    return response
