"""The request context: which request is being served, for forms that are not given it.

``CaptchaLaField`` needs the request (its scope, its client address, its session). A form
built as ``Form(request.POST)`` has none: :class:`RequestContextMiddleware` keeps the
request for the duration of the response, and :func:`current_request` reads it (or
django-allauth's own, where allauth's middleware keeps one); both live in
:mod:`captchala_django.request_context`, which the field reads. :func:`check_request_context`
names the forms that would find no request.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.checks import CheckMessage, Warning
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponseBase

from .request_context import (
    ALLAUTH_MIDDLEWARE_PATH,
    MIDDLEWARE_PATH,
    NO_REQUEST_HELP,
    current_request,
    serving,
)

__all__ = [
    "ALLAUTH_MIDDLEWARE_PATH",
    "MIDDLEWARE_PATH",
    "NO_REQUEST_HELP",
    "REQUEST_CONTEXT_CHECK_ID",
    "RequestContextMiddleware",
    "check_request_context",
    "current_request",
]

#: The system check's id (listed in the README with the others).
REQUEST_CONTEXT_CHECK_ID = "captchala_django.W013"


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
        with serving(request):
            return cast(HttpResponseBase, self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        with serving(request):
            return await cast(Awaitable[HttpResponseBase], self.get_response(request))


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
