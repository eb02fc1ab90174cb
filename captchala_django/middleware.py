"""The request context: which request is being served, for forms that are not given it.

``CaptchaLaField`` needs the request (its scope, its client address, its session). A form
built as ``Form(request.POST)`` has none: :class:`RequestContextMiddleware` keeps the
request in a context variable for the duration of the response, and
:func:`current_request` reads it (or django-allauth's own, where allauth's middleware
keeps one). :func:`check_request_context` names the forms that would find no request.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from types import ModuleType
from typing import Any, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.checks import CheckMessage, Warning
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponseBase

#: The system check's id (listed in the README with the others).
REQUEST_CONTEXT_CHECK_ID = "captchala_django.W013"

#: This middleware's dotted path, as MIDDLEWARE names it.
MIDDLEWARE_PATH = "captchala_django.middleware.RequestContextMiddleware"

#: django-allauth's middleware, which keeps the request in allauth's own context.
ALLAUTH_MIDDLEWARE_PATH = "allauth.account.middleware.AccountMiddleware"

#: What to do when a form's check has no request; said at render, in the log and by the check.
NO_REQUEST_HELP = (
    f'add "{MIDDLEWARE_PATH}" to MIDDLEWARE, or add CaptchaLaFormMixin '
    "(captchala_django.forms) to the form and pass request=request"
)

_request: ContextVar[HttpRequest | None] = ContextVar("captchala_request", default=None)


class RequestContextMiddleware:
    """Keeps the request being served where :func:`current_request` finds it.

    Anywhere in ``MIDDLEWARE``: it stores the request object itself, so what later
    middleware adds to it (``session``, ``user``) is there too. Works under WSGI and ASGI.
    """

    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponseBase]
        | Callable[[HttpRequest], Awaitable[HttpResponseBase]],
    ) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            # Django then awaits this instance instead of running it in a thread.
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.async_mode:
            return self._acall(request)
        token = _request.set(request)
        try:
            return cast(HttpResponseBase, self.get_response(request))
        finally:
            # Reset, not set to None: a request served inside another (the test
            # client in a view) gives the outer one back.
            _request.reset(token)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        token = _request.set(request)
        try:
            return await cast(Awaitable[HttpResponseBase], self.get_response(request))
        finally:
            _request.reset(token)


def current_request() -> HttpRequest | None:
    """The request being served: :class:`RequestContextMiddleware`'s, else the one
    django-allauth's ``AccountMiddleware`` keeps (allauth 0.58 and later), else None."""
    request = _request.get()
    if request is not None:
        return request
    return _allauth_request()


def _allauth_request() -> HttpRequest | None:
    context = _allauth_context()
    # allauth's module answers ``request`` from its own context variable.
    request = getattr(context, "request", None) if context is not None else None
    return request if isinstance(request, HttpRequest) else None


@functools.cache
def _allauth_context() -> ModuleType | None:
    """``allauth.core.context``, or None without allauth (looked up once: a failed import
    is not cached by Python, and would search the path again on every call)."""
    try:
        # Imported by name: allauth is optional, and type checkers need not know it.
        return importlib.import_module("allauth.core.context")
    except ImportError:
        return None


# ------------------------------------------------------------------ the system check


def check_request_context(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A form with a ``CaptchaLaField`` that takes no request, on a site with no request
    context: its page fails to render and every submission is refused.

    Only such forms are named, so a site whose forms all take the request (an
    ``AuthenticationForm``, ``CaptchaLaFormMixin``) needs no middleware and hears nothing.
    Forms are found after the URLconf is imported, as Django's URL checks do; one imported
    later is still caught on its first render.
    """
    if _request_context_installed():
        return []
    _import_urlconf()
    return [
        Warning(
            f"{form.__module__}.{form.__qualname__} has a CaptchaLaField, takes no request "
            "argument, and MIDDLEWARE keeps no request context: the form fails to render "
            "and every submission is refused.",
            hint=f"To fix it, {NO_REQUEST_HELP}. A form given its request another way "
            "can silence this check.",
            obj=form,
            id=REQUEST_CONTEXT_CHECK_ID,
        )
        for form in _forms_without_request()
    ]


def _request_context_installed() -> bool:
    from django.utils.module_loading import import_string

    for entry in getattr(settings, "MIDDLEWARE", None) or ():
        if entry == ALLAUTH_MIDDLEWARE_PATH:
            return True
        try:
            middleware = import_string(entry)
        except ImportError:
            continue  # Django reports a MIDDLEWARE entry that does not import
        if isinstance(middleware, type) and issubclass(middleware, RequestContextMiddleware):
            return True
    return False


def _import_urlconf() -> None:
    from django.urls import get_resolver

    try:
        get_resolver().url_patterns  # noqa: B018 - imports every view module, and their forms
    except Exception:  # noqa: BLE001, S110 - a broken URLconf is Django's check to report
        pass


def _forms_without_request() -> Iterator[type[BaseForm]]:
    from .fields import CaptchaLaField

    seen: set[type[BaseForm]] = set()
    pending: list[type[BaseForm]] = [BaseForm]
    while pending:
        for form in pending.pop().__subclasses__():
            if form in seen:
                continue
            seen.add(form)
            pending.append(form)
            fields = getattr(form, "base_fields", None) or {}
            has_field = any(isinstance(f, CaptchaLaField) for f in fields.values())
            if has_field and not _takes_request(form):
                yield form


def _takes_request(form: type[BaseForm]) -> bool:
    """Whether a class of the form declares an ``__init__`` with a ``request`` parameter
    (``AuthenticationForm``, ``CaptchaLaFormMixin`` and forms written the same way)."""
    for klass in form.__mro__:
        init = vars(klass).get("__init__")
        if init is None:
            continue
        try:
            if "request" in inspect.signature(init).parameters:
                return True
        except (TypeError, ValueError):  # a builtin's __init__: no signature to read
            continue
    return False
