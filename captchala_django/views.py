"""A small endpoint that re-issues a server token when the browser reports it expired."""

from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST

from .client import KNOWN_ACTIONS, CaptchaLaClient
from .exceptions import CaptchaLaError, ConfigurationError
from .ip import get_client_ip

logger = logging.getLogger("captchala_django.widgets")


@require_POST
def server_token(request: HttpRequest) -> JsonResponse:
    action = request.POST.get("action", "")
    if action not in KNOWN_ACTIONS:
        return JsonResponse({"error": "invalid_action"}, status=400)
    try:
        token = CaptchaLaClient().issue_server_token(
            action, binding_ip=get_client_ip(request), ttl=300
        )
    except CaptchaLaError as exc:
        level = logging.ERROR if isinstance(exc, ConfigurationError) else logging.WARNING
        logger.log(level, "could not re-issue a server token: %s", exc)
        response = JsonResponse({"error": "unavailable"}, status=503)
        response["Retry-After"] = "30"
        return response
    return JsonResponse({"server_token": token.token, "expires_in": token.expires_in})
