"""``checkpoint_required`` and ``CheckpointRequiredMixin``: guard views with a checkpoint.

A request whose scope has a passed, unexpired checkpoint goes straight through
(one query). Otherwise the pass token is read from the POST field
(``CAPTCHALA_TOKEN_FIELD``) or the ``X-CaptchaLa-Token`` header and verified.
Without a valid one the client gets the challenge page (HTML, 403) or
``{"error": "captcha_required"}`` (JSON, 403); when CaptchaLa is down under the
``deny`` policy, 503 with ``Retry-After``. ``request.captchala`` holds the
:class:`~captchala_django.checkpoints.Outcome` (``None`` on a method that is
not guarded). The decision itself is :func:`captchala_django.guard.evaluate`.
"""

from __future__ import annotations

import functools
import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, ParamSpec, TypeVar, cast, overload

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.db import close_old_connections
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    JsonResponse,
    QueryDict,
)
from django.http.multipartparser import MultiPartParserError
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.debug import SafeExceptionReporterFilter

from . import budgets
from . import guard as guard_core
from .actions import note_action
from .codes import Code
from .conf import app_settings
from .guard import guarded_methods
from .scopes import ScopeArg
from .tokens import TOKEN_HEADER
from .widgets import CaptchaLaWidget

logger = logging.getLogger("captchala_django.decorators")

__all__ = ["RETRY_AFTER", "TOKEN_HEADER", "CheckpointRequiredMixin", "checkpoint_required"]

#: Posted by the challenge page when the guarded request was not a re-submittable POST.
RETURN_FIELD = "_captchala_return"
RETRY_AFTER = 30
#: The names Django's own error reports hide (``API|TOKEN|KEY|SECRET|PASS|SIGNATURE``).
SENSITIVE_NAMES = SafeExceptionReporterFilter.hidden_settings
#: Short secrets that pattern misses, as whole words of a field name (``card_cvv``,
#: ``otp``), so that ``shipping`` keeps its ``pin``.
SENSITIVE_WORDS = re.compile(r"(?:^|[_\W])(?:pwd|pin|cvv|cvc|otp|ssn)(?:[_\W\d]|$)", re.I)
ALL = "__ALL__"

#: A view's parameters and return type: ``checkpoint_required`` gives them back unchanged.
_P = ParamSpec("_P")
_R = TypeVar("_R")


@dataclass(frozen=True)
class _Options(guard_core.Options):
    template: str = "captchala_django/challenge.html"
    #: Parameters the view marks with ``sensitive_post_parameters`` (seen when decorating).
    sensitive: tuple[str, ...] | str = field(default=())

    @classmethod
    def build(
        cls,
        scope: ScopeArg,
        ttl: int | None,
        methods: Iterable[str] | None,
        action: str | None,
        template: str,
        sensitive: tuple[str, ...] | str = (),
        max_risk: int | None = None,
    ) -> _Options:
        return cls(
            scope=scope,
            ttl=ttl,
            methods=guarded_methods(methods),
            action=action,
            max_risk=max_risk,
            template=template,
            sensitive=sensitive,
        )


def _post(request: HttpRequest) -> QueryDict | dict[str, Any]:
    try:
        return request.POST
    except (MultiPartParserError, ValueError):  # a malformed body: treated as carrying no token
        return {}


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


def _private(response: HttpResponse) -> HttpResponse:
    """Challenge and retry pages are for this request only: never cached, never framed."""
    add_never_cache_headers(response)
    response["X-Frame-Options"] = "DENY"
    return response


def declared_sensitive(view: Callable[..., Any]) -> tuple[str, ...] | str:
    """What ``sensitive_post_parameters`` marks on ``view`` or anything it wraps.

    The decorator stops a request before an inner ``sensitive_post_parameters``
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


def _echoable(request: HttpRequest, opts: _Options, data: Any) -> list[tuple[str, str]]:
    """The posted fields the challenge page may carry over: never a sensitive one.

    Dropped: the token field, the CSRF token, fields whose names Django's error
    reports hide or that name a short secret (``pwd``, ``pin``, ``cvv``, ``cvc``,
    ``otp``, ``ssn`` as a word), and what ``sensitive_post_parameters`` marks
    (all, for ``()``).
    The user types those again.
    """
    marked = getattr(request, "sensitive_post_parameters", None) or opts.sensitive
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


def _challenge(request: HttpRequest, opts: _Options, verdict: guard_core.Verdict) -> HttpResponse:
    if verdict.outcome is None and not verdict.conflict:
        message = _("Please complete the check to continue.")
    else:
        message = _("The check was not passed. Please try again.")
    if _wants_json(request):
        response = JsonResponse(
            {
                "error": "captcha_required",
                "detail": message,
                "token_field": app_settings.TOKEN_FIELD,
                "token_header": "X-CaptchaLa-Token",
            },
            status=403,
        )
        return _private(response)
    data = _post(request) if request.method == "POST" else {}
    resubmit = request.method == "POST" and not request.FILES and RETURN_FIELD not in data
    widget = CaptchaLaWidget(action=opts.action)
    widget.request = request
    context = {
        "message": message,
        "widget": widget.render("captcha", None),
        "action_url": same_url(request),
        "hidden": _echoable(request, opts, data) if resubmit else [],
        "return_field": None if resubmit else RETURN_FIELD,
    }
    html = render_to_string(opts.template, context, request=request)
    return _private(HttpResponse(html, status=403))


def _unavailable(request: HttpRequest) -> HttpResponse:
    message = _("The check could not be completed right now. Please try again.")
    return _try_later(request, "captcha_unavailable", message, 503, RETRY_AFTER)


def _limited(request: HttpRequest) -> HttpResponse:
    message = _("Too many attempts; try again in a minute.")
    return _try_later(request, "rate_limited", message, 429, budgets.WINDOW)


def _try_later(
    request: HttpRequest, error: str, message: str, status: int, retry_after: int
) -> HttpResponse:
    """A "try again later" answer (JSON or the retry page) with ``Retry-After``."""
    response: HttpResponse
    if _wants_json(request):
        response = JsonResponse(
            {"error": error, "detail": message, "retry_after": retry_after}, status=status
        )
    else:
        html = render_to_string(
            "captchala_django/unavailable.html", {"message": message}, request=request
        )
        response = HttpResponse(html, status=status)
    response["Retry-After"] = str(retry_after)
    return _private(response)


def guard(request: HttpRequest, opts: _Options) -> HttpResponse | None:
    """``None`` to let the view run, else the response that stops it."""
    # The documented per-request attribute; HttpRequest declares no such field.
    request.captchala = None  # type: ignore[attr-defined]

    def body() -> QueryDict | dict[str, Any]:
        return _post(request) if request.method == "POST" else {}

    # A POST back from the challenge page of a request that could not be resubmitted
    # (a GET): checked, then sent back to the same URL. Only an unguarded method's POST
    # is read for it here; a guarded one's body is read by the guard, for its token
    # (verified on a miss, claimed as seen on a ridden pass).
    guarded = opts.guards(request.method)
    if not guarded and not (request.method == "POST" and RETURN_FIELD in body()):
        return None
    verdict = guard_core.evaluate(request, opts, body)
    if verdict.kind == guard_core.ALLOW:
        ridden = verdict.outcome is not None and verdict.outcome.code == Code.CHECKPOINT_PASSED
        returning = request.method == "POST" and not (guarded and ridden) and RETURN_FIELD in body()
        return HttpResponseRedirect(same_url(request)) if returning else None
    if verdict.kind == guard_core.UNAVAILABLE:
        return _unavailable(request)
    if verdict.kind == guard_core.LIMITED:
        return _limited(request)
    return _challenge(request, opts, verdict)


def _guard_in_worker(request: HttpRequest, opts: _Options) -> HttpResponse | None:
    try:
        return guard(request, opts)
    finally:
        # This thread is not the request's: release its connections as the request
        # cycle would (CONN_MAX_AGE is honoured).
        close_old_connections()


# Database and provider work in a worker thread of its own: the event loop never
# blocks, and two checks in flight overlap.
_async_guard = sync_to_async(_guard_in_worker, thread_sensitive=False)


def _guarded(view: Callable[..., _R], opts: _Options) -> Callable[..., _R | HttpResponse]:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> _R | HttpResponse:
        response = guard(request, opts)
        if response is not None:
            return response
        return view(request, *args, **kwargs)

    return wrapper


def _guarded_async(
    view: Callable[..., Awaitable[_R]], opts: _Options
) -> Callable[..., Coroutine[Any, Any, _R | HttpResponse]]:
    @functools.wraps(view)
    async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> _R | HttpResponse:
        response = await _async_guard(request, opts)
        if response is not None:
            return response
        return await view(request, *args, **kwargs)

    return async_wrapper


def _wrap(view: Callable[_P, _R], opts: _Options) -> Callable[_P, _R]:
    """``view`` behind the guard: a coroutine function for a coroutine function view."""
    opts = replace(opts, sensitive=declared_sensitive(view))
    wrapper: Callable[..., object]
    if iscoroutinefunction(view):
        # asgiref's check (it also knows markcoroutinefunction) does not narrow the type.
        wrapper = _guarded_async(cast("Callable[..., Awaitable[object]]", view), opts)
    else:
        wrapper = _guarded(view, opts)
    # Typed as the view itself, as Django's own view decorators are: the same
    # parameters and result, a stopped request getting the guard's HttpResponse.
    return cast("Callable[_P, _R]", wrapper)


@overload
def checkpoint_required(
    view: Callable[_P, _R],
    *,
    scope: ScopeArg = ...,
    ttl: int | None = ...,
    methods: Iterable[str] | None = ...,
    action: str | None = ...,
    template: str = ...,
    max_risk: int | None = ...,
) -> Callable[_P, _R]: ...


@overload
def checkpoint_required(
    view: None = ...,
    *,
    scope: ScopeArg = ...,
    ttl: int | None = ...,
    methods: Iterable[str] | None = ...,
    action: str | None = ...,
    template: str = ...,
    max_risk: int | None = ...,
) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]: ...


def checkpoint_required(
    view: Callable[_P, _R] | None = None,
    *,
    scope: ScopeArg = None,
    ttl: int | None = None,
    methods: Iterable[str] | None = None,
    action: str | None = None,
    template: str = "captchala_django/challenge.html",
    max_risk: int | None = None,
) -> Callable[_P, _R] | Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Require a passed checkpoint for the view (``@checkpoint_required`` or called).

    ``methods`` are the guarded methods (default: every method but GET, HEAD and
    OPTIONS, as for DRF's permission; ``GET`` brings ``HEAD`` with it);
    ``max_risk`` denies a valid verdict scored above it (default ``CAPTCHALA_MAX_RISK``).
    The decorated view keeps its type: the same parameters and result, and a
    coroutine function stays one.
    """
    note_action(action)
    opts = _Options.build(scope, ttl, methods, action, template, max_risk=max_risk)
    if view is not None:
        return _wrap(view, opts)

    def decorate(fn: Callable[_P, _R]) -> Callable[_P, _R]:
        return _wrap(fn, opts)

    return decorate


class CheckpointRequiredMixin:
    """Class-based views, sync or async: ``class TransferView(CheckpointRequiredMixin, View)``."""

    checkpoint_scope: ScopeArg = None
    checkpoint_ttl: int | None = None
    checkpoint_methods: Iterable[str] | None = None
    checkpoint_action: str | None = None
    checkpoint_template: str = "captchala_django/challenge.html"
    checkpoint_max_risk: int | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        note_action(cls.checkpoint_action)

    # ``super().dispatch`` is the View's (the mixin comes before a View in the class's
    # bases), which mypy cannot see from a class based on object: hence [misc] below.
    # The View's own stub could not stand in: it says ``dispatch`` never returns a
    # coroutine, which it does for an async view.

    def _checkpoint_options(self) -> _Options:
        return _Options.build(
            self.checkpoint_scope,
            self.checkpoint_ttl,
            self.checkpoint_methods,
            self.checkpoint_action,
            self.checkpoint_template,
            declared_sensitive(super().dispatch),  # type: ignore[misc]
            max_risk=self.checkpoint_max_risk,
        )

    def dispatch(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponseBase | Coroutine[Any, Any, HttpResponseBase]:
        opts = self._checkpoint_options()
        if getattr(self, "view_is_async", False):
            return self._async_dispatch(opts, request, *args, **kwargs)
        response = guard(request, opts)
        if response is not None:
            return response
        handled: HttpResponseBase = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        return handled

    async def _async_dispatch(
        self, opts: _Options, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        response = await _async_guard(request, opts)
        if response is not None:
            return response
        handled: HttpResponseBase = await super().dispatch(  # type: ignore[misc]
            request, *args, **kwargs
        )
        return handled
