"""Which request is being served: the one lookup both the middleware that keeps it and the
form field that needs it share (so neither imports the other for it).

:class:`~captchala_django.middleware.RequestContextMiddleware` keeps the request in a
context variable for the duration of the response (:func:`serving`);
:func:`current_request` reads it, or django-allauth's own where allauth's middleware
keeps one.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import ModuleType

from django.http import HttpRequest

#: The middleware's dotted path, as MIDDLEWARE names it.
MIDDLEWARE_PATH = "captchala_django.middleware.RequestContextMiddleware"

#: django-allauth's middleware, which keeps the request in allauth's own context.
ALLAUTH_MIDDLEWARE_PATH = "allauth.account.middleware.AccountMiddleware"

#: What to do when a form's check has no request; said at render, in the log and by the check.
NO_REQUEST_HELP = (
    f'add "{MIDDLEWARE_PATH}" to MIDDLEWARE, or add CaptchaLaFormMixin '
    "(captchala_django.forms) to the form and pass request=request"
)

_request: ContextVar[HttpRequest | None] = ContextVar("captchala_request", default=None)


@contextmanager
def serving(request: HttpRequest) -> Iterator[None]:
    """``request`` is the one being served for the block (sync or async code alike)."""
    token = _request.set(request)
    try:
        yield
    finally:
        # Reset, not set to None: a request served inside another (the test client in a
        # view) gives the outer one back.
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
