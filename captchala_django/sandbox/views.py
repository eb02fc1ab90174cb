"""The sandbox mounted inside a Django project (development only).

``path("captchala-sandbox/", include("captchala_django.sandbox.urls"))`` serves
the API, the loader and the control endpoints under that prefix; point
``CAPTCHALA_API_URL`` at it. State lives in this process's memory, so use it
with ``runserver`` (one process), not with several workers. The ``drop`` fault
cannot close a connection from a Django view and answers 502 instead.
"""

from __future__ import annotations

import threading

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ..conf import app_settings
from .core import Sandbox

_lock = threading.Lock()
_sandbox: Sandbox | None = None


def get_sandbox() -> Sandbox:
    """The process's sandbox, with the site's configured keys registered."""
    global _sandbox
    with _lock:
        if _sandbox is None:
            _sandbox = Sandbox()
    key = app_settings.APP_KEY  # the sandbox's own keys when none are set
    secret = app_settings.APP_SECRET
    if key and secret and key not in _sandbox.apps:
        _sandbox.register_app(key, secret)
    return _sandbox


def sandbox_enabled() -> bool:
    if not app_settings.SANDBOX:
        return False
    return bool(settings.DEBUG or app_settings.SANDBOX_FORCE)


@csrf_exempt
def sandbox_view(request: HttpRequest, subpath: str = "") -> HttpResponse:
    if not sandbox_enabled():
        raise Http404("The CaptchaLa sandbox is off")
    sandbox = get_sandbox()
    headers = {k: v for k, v in request.headers.items()}
    reply = sandbox.handle(request.method or "GET", subpath, headers, request.body)
    release = sandbox.release
    if reply.delay:
        release.wait(reply.delay)
    if reply.drop:
        if reply.hang:
            release.wait(reply.hang)
        return HttpResponse(b"", status=502)
    response = HttpResponse(reply.body, status=reply.status, content_type=reply.content_type)
    response["Cache-Control"] = "no-store"
    return response
