"""``checkpoint_required`` and ``CheckpointRequiredMixin``: guard views with a checkpoint.

A request whose scope has a passed, unexpired checkpoint goes straight through
(one query). Otherwise the pass token is read from the POST field
(``CAPTCHALA_TOKEN_FIELD``) or the ``X-CaptchaLa-Token`` header and verified.
Without a valid one the client gets the challenge page (HTML, 403) or
``{"error": "captcha_required"}`` (JSON, 403); when CaptchaLa is down under the
``deny`` policy, 503 with ``Retry-After``. ``request.captchala`` holds the
:class:`~captchala_django.checkpoints.Outcome`.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.db import DatabaseError, close_old_connections
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.http.multipartparser import MultiPartParserError
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from .checkpoints import Outcome, get_passed, skips_check, verify_and_record
from .conf import get_setting
from .scopes import ScopeArg
from .widgets import CaptchaLaWidget

logger = logging.getLogger("captchala_django.decorators")

TOKEN_HEADER = "HTTP_X_CAPTCHALA_TOKEN"
#: Posted by the challenge page when the guarded request was not a re-submittable POST.
RETURN_FIELD = "_captchala_return"
RETRY_AFTER = 30


@dataclass(frozen=True)
class _Options:
    scope: ScopeArg = None
    ttl: int | None = None
    methods: tuple[str, ...] = ("POST",)
    action: str | None = None
    template: str = "captchala_django/challenge.html"


def _post(request: HttpRequest):
    try:
        return request.POST
    except (MultiPartParserError, ValueError):  # a malformed body: treated as carrying no token
        return {}


def _token(request: HttpRequest) -> tuple[str | None, bool]:
    """The posted pass token, and whether several were posted (then none is used)."""
    field = get_setting("CAPTCHALA_TOKEN_FIELD")
    values = []
    if request.method == "POST":
        data = _post(request)
        values = data.getlist(field) if hasattr(data, "getlist") else []
    if len(values) > 1:
        return None, True
    if values:
        return values[0], False
    return request.META.get(TOKEN_HEADER), False


def same_url(request: HttpRequest) -> str:
    """The request's own path and query, made safe to use as a link (never another host)."""
    url = request.get_full_path()
    if not url_has_allowed_host_and_scheme(url, allowed_hosts=None):
        url = "/" + url.lstrip("/\\")
    return url


def _wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return (
        request.content_type == "application/json"
        or request.headers.get("X-Requested-With") == "XMLHttpRequest"
        or ("application/json" in accept and "text/html" not in accept)
    )


def _challenge(request: HttpRequest, opts: _Options, outcome: Outcome | None, *, multiple=False):
    if outcome is None and not multiple:
        message = _("Please complete the check to continue.")
    else:
        message = _("The check was not passed. Please try again.")
    if _wants_json(request):
        return JsonResponse(
            {
                "error": "captcha_required",
                "detail": message,
                "token_field": get_setting("CAPTCHALA_TOKEN_FIELD"),
                "token_header": "X-CaptchaLa-Token",
            },
            status=403,
        )
    field = get_setting("CAPTCHALA_TOKEN_FIELD")
    data = _post(request) if request.method == "POST" else {}
    resubmit = request.method == "POST" and not request.FILES and RETURN_FIELD not in data
    hidden = []
    if resubmit and hasattr(data, "lists"):
        skip = {field, "csrfmiddlewaretoken", RETURN_FIELD}
        hidden = [(k, v) for k, values in data.lists() if k not in skip for v in values]
    widget = CaptchaLaWidget(action=opts.action)
    widget.request = request
    context = {
        "message": message,
        "widget": widget.render("captcha", None),
        "action_url": same_url(request),
        "hidden": hidden,
        "return_field": None if resubmit else RETURN_FIELD,
    }
    html = render_to_string(opts.template, context, request=request)
    return HttpResponse(html, status=403)


def _unavailable(request: HttpRequest) -> HttpResponse:
    message = _("The check could not be completed right now. Please try again.")
    if _wants_json(request):
        response = JsonResponse(
            {"error": "captcha_unavailable", "detail": message, "retry_after": RETRY_AFTER},
            status=503,
        )
    else:
        html = render_to_string(
            "captchala_django/unavailable.html", {"message": message}, request=request
        )
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(RETRY_AFTER)
    return response


def guard(request: HttpRequest, opts: _Options) -> HttpResponse | None:
    """``None`` to let the view run, else the response that stops it."""
    returning = False
    if request.method not in opts.methods:
        returning = request.method == "POST" and RETURN_FIELD in _post(request)
        if not returning:
            return None
    try:
        passed = get_passed(request, opts.scope)
    except DatabaseError as exc:
        logger.warning("checkpoint lookup failed (%s); verifying", type(exc).__name__)
        passed = None
    if passed is not None:
        request.captchala = Outcome(allowed=True, checkpoint=passed, code="checkpoint_passed")
        return None
    returning = returning or (request.method == "POST" and RETURN_FIELD in _post(request))
    token, multiple = _token(request)
    if token is None and not skips_check(request):
        return _challenge(request, opts, None, multiple=multiple)
    outcome = verify_and_record(
        request, token, opts.scope, opts.action, ttl=opts.ttl, fast_path=False
    )
    request.captchala = outcome
    if outcome.allowed:
        if returning:  # passed on the challenge page of a GET: back to the same URL
            return HttpResponseRedirect(same_url(request))
        return None
    if outcome.retry_later:
        return _unavailable(request)
    return _challenge(request, opts, outcome)


def _guard_in_worker(request: HttpRequest, opts: _Options) -> HttpResponse | None:
    try:
        return guard(request, opts)
    finally:
        # This thread is not the request's: release its connections as the request
        # cycle would (CONN_MAX_AGE is honoured).
        close_old_connections()


def _wrap(view: Callable[..., Any], opts: _Options) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(view):
        # Database and provider work in a worker thread of its own: the event loop never
        # blocks, and two checks in flight overlap.
        async_guard = sync_to_async(_guard_in_worker, thread_sensitive=False)

        @functools.wraps(view)
        async def async_wrapper(request, *args, **kwargs):
            response = await async_guard(request, opts)
            if response is not None:
                return response
            return await view(request, *args, **kwargs)

        return async_wrapper

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        response = guard(request, opts)
        if response is not None:
            return response
        return view(request, *args, **kwargs)

    return wrapper


def checkpoint_required(
    view: Callable[..., Any] | None = None,
    *,
    scope: ScopeArg = None,
    ttl: int | None = None,
    methods: Iterable[str] = ("POST",),
    action: str | None = None,
    template: str = "captchala_django/challenge.html",
):
    """Require a passed checkpoint for the view (``@checkpoint_required`` or called)."""
    opts = _Options(scope, ttl, tuple(m.upper() for m in methods), action, template)
    if view is not None:
        return _wrap(view, opts)
    return lambda fn: _wrap(fn, opts)


class CheckpointRequiredMixin:
    """Class-based views: ``class TransferView(CheckpointRequiredMixin, FormView)``."""

    checkpoint_scope: ScopeArg = None
    checkpoint_ttl: int | None = None
    checkpoint_methods: Iterable[str] = ("POST",)
    checkpoint_action: str | None = None
    checkpoint_template: str = "captchala_django/challenge.html"

    def dispatch(self, request, *args, **kwargs):
        opts = _Options(
            self.checkpoint_scope,
            self.checkpoint_ttl,
            tuple(m.upper() for m in self.checkpoint_methods),
            self.checkpoint_action,
            self.checkpoint_template,
        )
        response = guard(request, opts)
        if response is not None:
            return response
        return super().dispatch(request, *args, **kwargs)
