"""A database outage answers 503 with ``Retry-After``, never a 500.

captchala-django itself never lets a database error out of a check; the rest of
a site (database-backed sessions loading ``request.user`` for a template, an API's
authentication) does, unless something like this turns it into a retryable answer.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse

RETRY_AFTER = "5"


def unavailable() -> HttpResponse:
    response = HttpResponse(
        "The site is briefly unavailable. Please try again in a few seconds.",
        status=503,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = RETRY_AFTER
    return response


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DatabaseError):
            return None
        return unavailable()


class SessionWriteFailedMiddleware:
    """Before ``SessionMiddleware``: its 400 for a session it could not save while the
    database was unreachable (``demo.sessions``) becomes 503 with ``Retry-After``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if response.status_code == 400 and getattr(session, "database_failed", False):
            return unavailable()
        return response
