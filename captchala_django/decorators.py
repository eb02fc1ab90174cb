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
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ParamSpec, TypedDict, TypeVar, cast, overload

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.db import close_old_connections
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
)

from . import guard
from .actions import note_action
from .challenge import (
    RETURN_FIELD,
    bad_request_response,
    challenge_response,
    declared_sensitive,
    limited_response,
    same_url,
    unavailable_response,
)
from .codes import Code
from .guard import RETRY_AFTER, guarded_methods
from .scopes import ScopeArg
from .tokens import TOKEN_HEADER, BadBody, request_body
from .widgets import CaptchaLaWidget

if TYPE_CHECKING:
    from typing_extensions import Unpack

logger = logging.getLogger("captchala_django.decorators")

__all__ = ["RETRY_AFTER", "TOKEN_HEADER", "CheckpointRequiredMixin", "checkpoint_required"]

#: A view's parameters and return type: ``checkpoint_required`` gives them back unchanged.
_P = ParamSpec("_P")
_R = TypeVar("_R")


@dataclass(frozen=True)
class _Options(guard.Options):
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


def _widget_html(request: HttpRequest, action: str | None) -> str:
    """The widget the challenge page shows, rendered for ``request``."""
    widget = CaptchaLaWidget(action=action)
    widget.request = request
    return widget.render("captcha", None)


def _stopping_response(request: HttpRequest, opts: _Options) -> HttpResponse | None:
    """``None`` to let the view run, else the response that stops it."""
    # The documented per-request attribute; HttpRequest declares no such field.
    request.captchala = None  # type: ignore[attr-defined]

    parsed: list[Any] = []

    def body() -> Any:
        if not parsed:  # parsed once: the guard and the return check both read it
            parsed.append(request_body(request))
        return parsed[0]

    # A POST back from the challenge page of a request that could not be resubmitted
    # (a GET): checked, then sent back to the same URL. Only an unguarded method's POST
    # is read for it here; a guarded one's body is read by the guard, for its token
    # (verified on a miss, claimed as seen on a ridden pass).
    guarded = opts.guards(request.method)
    try:
        if not guarded and not (request.method == "POST" and RETURN_FIELD in body()):
            return None
        ruling = guard.evaluate(request, opts, body)
    except BadBody as exc:
        return bad_request_response(str(exc))
    if ruling.kind == guard.ALLOW:
        ridden = ruling.outcome is not None and ruling.outcome.code == Code.CHECKPOINT_PASSED
        returning = request.method == "POST" and not (guarded and ridden) and RETURN_FIELD in body()
        return HttpResponseRedirect(same_url(request)) if returning else None
    if ruling.kind == guard.UNAVAILABLE:
        return unavailable_response(request, opts.action)
    if ruling.kind == guard.LIMITED:
        return limited_response(request, opts.action)
    return challenge_response(
        request,
        ruling,
        template=opts.template,
        sensitive=opts.sensitive,
        widget=lambda: _widget_html(request, opts.action),
        action=opts.action,
    )


def _stopping_response_in_worker(request: HttpRequest, opts: _Options) -> HttpResponse | None:
    try:
        return _stopping_response(request, opts)
    finally:
        # This thread is not the request's: release its connections as the request
        # cycle would (CONN_MAX_AGE is honoured).
        close_old_connections()


# Database and provider work in a worker thread of its own: the event loop never
# blocks, and two checks in flight overlap.
_async_stopping_response = sync_to_async(_stopping_response_in_worker, thread_sensitive=False)


def _guarded(view: Callable[..., _R], opts: _Options) -> Callable[..., _R | HttpResponse]:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> _R | HttpResponse:
        response = _stopping_response(request, opts)
        if response is not None:
            return response
        return view(request, *args, **kwargs)

    return wrapper


def _guarded_async(
    view: Callable[..., Awaitable[_R]], opts: _Options
) -> Callable[..., Coroutine[Any, Any, _R | HttpResponse]]:
    @functools.wraps(view)
    async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> _R | HttpResponse:
        response = await _async_stopping_response(request, opts)
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


class _Settings(TypedDict, total=False):
    """``checkpoint_required``'s keyword arguments, as its overloads name them."""

    scope: ScopeArg
    ttl: int | None
    methods: Iterable[str] | None
    action: str | None
    template: str
    max_risk: int | None


@overload
def checkpoint_required(
    view: Callable[_P, _R], **settings: Unpack[_Settings]
) -> Callable[_P, _R]: ...


@overload
def checkpoint_required(
    view: None = ..., **settings: Unpack[_Settings]
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
        response = _stopping_response(request, opts)
        if response is not None:
            return response
        handled: HttpResponseBase = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        return handled

    async def _async_dispatch(
        self, opts: _Options, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        response = await _async_stopping_response(request, opts)
        if response is not None:
            return response
        handled: HttpResponseBase = await super().dispatch(  # type: ignore[misc]
            request, *args, **kwargs
        )
        return handled
