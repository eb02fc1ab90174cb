"""What a request the guard stopped gets back, as a response.

* :func:`challenge_response`: the challenge page (HTML, 403), or
  ``{"error": "captcha_required"}`` (JSON, 403);
* :func:`unavailable_response`: CaptchaLa could not be asked, 503 with ``Retry-After``;
* :func:`limited_response`: the client's budget of failed checks is spent, 429 with
  ``Retry-After``.

Each is private to its request (never cached, never framed), JSON for a client that asks
for JSON, and for an htmx request (``HX-Request``) a fragment with an ``HX-Trigger`` event
that the boot script turns into the check (it re-sends the request once passed). The page
posts back to the request's own URL and carries a re-submittable POST's fields over as
hidden inputs, never a sensitive one. It shows the widget the caller
renders: this module sits below the front doors, the widget among them.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.debug import SafeExceptionReporterFilter

from . import budgets
from .conf import app_settings
from .guard import RETRY_AFTER, Ruling
from .tokens import TOKEN_HEADER_NAME, is_json, post_data

#: Posted by the challenge page when the guarded request was not a re-submittable POST.
RETURN_FIELD = "_captchala_return"
#: The names Django's own error reports hide (``API|TOKEN|KEY|SECRET|PASS|SIGNATURE``).
SENSITIVE_NAMES = SafeExceptionReporterFilter.hidden_settings
#: Short secrets that pattern misses, as whole words of a field name (``card_cvv``,
#: ``otp``), so that ``shipping`` keeps its ``pin``.
SENSITIVE_WORDS = re.compile(r"(?:^|[_\W])(?:pwd|pin|cvv|cvc|otp|ssn)(?:[_\W\d]|$)", re.I)
#: What :func:`declared_sensitive` gives for a bare ``sensitive_post_parameters()``: all of them.
ALL = "__ALL__"


def same_url(request: HttpRequest) -> str:
    """The request's own path and query, made safe to use as a link (never another host)."""
    url = request.get_full_path()
    if not url_has_allowed_host_and_scheme(url, allowed_hosts=None):
        url = "/" + url.lstrip("/\\")
    return url


def client_hints(action: str | None, request: HttpRequest | None = None) -> dict[str, Any]:
    """What a page that renders itself needs to show the check again (nothing secret): the
    app key, the action the widget runs under, the loader and the server-token refresh
    URL (a server token is fetched from there, never issued for a refusal)."""
    from django.urls import NoReverseMatch, reverse

    from .actions import provider_action
    from .exceptions import ConfigurationError
    from .keys import app_key_for

    try:
        app_key = app_key_for(request)  # the request's app (keys per site)
    except ConfigurationError:
        app_key = ""
    refresh_url = ""
    if app_settings.SERVER_TOKENS:
        try:
            refresh_url = reverse("captchala:server-token")
        except NoReverseMatch:
            pass
    options = app_settings.WIDGET or {}
    return {
        "app_key": app_key,
        "action": provider_action(action) or "",
        "loader_url": app_settings.LOADER_URL,
        "refresh_url": refresh_url,
        "product": options.get("product", "bind"),
        "token_field": app_settings.TOKEN_FIELD,
        "token_header": TOKEN_HEADER_NAME,
    }


def bad_request_response(detail: str) -> HttpResponse:
    """400: the body could not be read (bad JSON); the client may send it again, fixed."""
    return _private(JsonResponse({"error": "bad_request", "detail": detail}, status=400))


#: A request attribute a front door sets when its answers are always JSON (an API).
JSON_ANSWERS = "_captchala_json_answers"


def _wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return (
        getattr(request, JSON_ANSWERS, False)
        or is_json(request)
        or request.headers.get("X-Requested-With") == "XMLHttpRequest"
        or ("application/json" in accept and "text/html" not in accept)
    )


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


#: The events an htmx answer triggers (``HX-Trigger``), by the JSON answer's ``error``.
HTMX_EVENTS = {
    "captcha_required": "captchala:required",
    "captcha_unavailable": "captchala:unavailable",
    "rate_limited": "captchala:limited",
}


def _htmx_response(body: dict[str, Any], status: int) -> HttpResponse:
    """An htmx request's answer: a fragment with the message, and the JSON answer as the
    ``HX-Trigger`` event htmx fires on the element that sent the request (on any status,
    unlike a swap). The boot script shows the check from it and re-sends the request."""
    html = format_html('<p class="captchala-message" role="alert">{}</p>', body["detail"])
    response = HttpResponse(html, status=status)
    event = body | {"labels": {"close": _("Close"), "retry": _("Try again")}}
    # ASCII JSON: a header carries no line break and no byte outside latin-1.
    response["HX-Trigger"] = json.dumps({HTMX_EVENTS[body["error"]]: event}, ensure_ascii=True)
    return response


def _private(response: HttpResponse) -> HttpResponse:
    """Challenge and retry pages are for this request only: never cached, never framed.
    A URL answers an htmx request, a JSON client and a browser differently (``Vary``)."""
    add_never_cache_headers(response)
    patch_vary_headers(response, ("Accept", "HX-Request"))
    response["X-Frame-Options"] = "DENY"
    return response


def declared_sensitive(view: Callable[..., Any]) -> tuple[str, ...] | str:
    """What ``sensitive_post_parameters`` marks on ``view`` or anything it wraps.

    The guard stops a request before an inner ``sensitive_post_parameters``
    has run, so its parameters are read from the wrapper itself.
    """
    found: set[str] = set()
    seen = 0
    fn: Callable[..., Any] | None = view
    while fn is not None and seen < 20:
        code = getattr(fn, "__code__", None)  # functools.wraps renames, the code keeps its name
        if code is not None and code.co_name == "sensitive_post_parameters_wrapper":
            parameters = inspect.getclosurevars(fn).nonlocals.get("parameters", ())
            if not parameters:
                return ALL
            found.update(parameters)
        fn = getattr(fn, "__wrapped__", None)
        seen += 1
    return tuple(sorted(found))


def _echoable(
    request: HttpRequest, sensitive: tuple[str, ...] | str, data: Any
) -> list[tuple[str, str]]:
    """The posted fields the challenge page may carry over: never a sensitive one.

    Dropped: the token field, the CSRF token, fields whose names Django's error
    reports hide or that name a short secret (``pwd``, ``pin``, ``cvv``, ``cvc``,
    ``otp``, ``ssn`` as a word), and what ``sensitive_post_parameters`` marks
    (on the request, else ``sensitive`` as read from the view; all, for ``()``).
    The user types those again.
    """
    marked = getattr(request, "sensitive_post_parameters", None) or sensitive
    if marked == ALL or not hasattr(data, "lists"):
        return []
    skip = {app_settings.TOKEN_FIELD, "csrfmiddlewaretoken", RETURN_FIELD, *marked}
    return [
        (name, value)
        for name, values in data.lists()
        if name not in skip
        and not SENSITIVE_NAMES.search(name)
        and not SENSITIVE_WORDS.search(name)
        for value in values
    ]


def challenge_response(
    request: HttpRequest,
    ruling: Ruling,
    *,
    template: str,
    sensitive: tuple[str, ...] | str,
    widget: Callable[[], str],
    action: str | None = None,
) -> HttpResponse:
    """403: the challenge page (``template``), or JSON for a client that asks for it.

    ``widget()`` renders the widget, for the page only; ``sensitive`` is what
    :func:`declared_sensitive` read from the view.
    """
    if ruling.outcome is None and not ruling.conflict:
        message = _("Please complete the check to continue.")
    else:
        message = _("The check was not passed. Please try again.")
    body = {
        "error": "captcha_required",
        "detail": message,
        "token_field": app_settings.TOKEN_FIELD,
        "token_header": TOKEN_HEADER_NAME,
        "captcha": client_hints(action, request),
    }
    if _wants_json(request):
        return _private(JsonResponse(body, status=403))
    if _is_htmx(request):
        return _private(_htmx_response(body, 403))
    data = post_data(request) if request.method == "POST" else {}
    resubmit = request.method == "POST" and not request.FILES and RETURN_FIELD not in data
    context = {
        "message": message,
        "widget": widget(),
        "action_url": same_url(request),
        "hidden": _echoable(request, sensitive, data) if resubmit else [],
        "return_field": None if resubmit else RETURN_FIELD,
    }
    html = render_to_string(template, context, request=request)
    return _private(HttpResponse(html, status=403))


def unavailable_response(request: HttpRequest, action: str | None = None) -> HttpResponse:
    """503 with ``Retry-After``: the check could not be completed."""
    message = _("The check could not be completed right now. Please try again.")
    return _try_later(request, "captcha_unavailable", message, 503, RETRY_AFTER, action)


def limited_response(request: HttpRequest, action: str | None = None) -> HttpResponse:
    """429 with ``Retry-After``: the client's budget of failed checks is spent."""
    message = _("Too many attempts; try again in a minute.")
    return _try_later(request, "rate_limited", message, 429, budgets.WINDOW, action)


def _try_later(
    request: HttpRequest,
    error: str,
    message: str,
    status: int,
    retry_after: int,
    action: str | None,
) -> HttpResponse:
    """A "try again later" answer (JSON or the retry page) with ``Retry-After``."""
    response: HttpResponse
    body = {"error": error, "detail": message, "retry_after": retry_after}
    body["captcha"] = client_hints(action, request)
    if _wants_json(request):
        response = JsonResponse(body, status=status)
    elif _is_htmx(request):
        response = _htmx_response(body, status)
    else:
        html = render_to_string(
            "captchala_django/unavailable.html", {"message": message}, request=request
        )
        response = HttpResponse(html, status=status)
    response["Retry-After"] = str(retry_after)
    return _private(response)
