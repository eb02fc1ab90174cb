"""The sandbox mounted inside a Django project (development only).

``path("captchala-sandbox/", include("captchala_django.sandbox.urls"))`` serves
the API, the loader and the control endpoints under that prefix; point
``CAPTCHALA_API_URL`` at it. State lives in this process's memory, so use it
with ``runserver`` (one process), not with several workers. The ``drop`` fault
cannot close a connection from a Django view and answers 502 instead.

Who may call it follows the standalone server's rule (:mod:`.origin`): a page on
another site may load the loader and run the browser check, nothing else; and
only the project's own host, or a loopback name, is served.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.http import is_same_domain
from django.views.decorators.csrf import csrf_exempt

from ..conf import app_settings
from .core import Sandbox
from .origin import CORS_HEADERS, host_name, is_loopback, refusal, wants_cors

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


def _named_by_project(name: str) -> bool:
    """Whether ``ALLOWED_HOSTS`` names the host ``name`` (which passed ``get_host()``).

    A ``"*"`` there lets any name through ``get_host()``, a DNS-rebinding page's
    included, so a name that passes only through it is not the project's own.
    """
    allowed = settings.ALLOWED_HOSTS
    if "*" not in allowed:
        return True  # get_host() has already held the name to that list
    domain = f"[{name}]" if ":" in name else name  # how ALLOWED_HOSTS spells IPv6
    return any(is_same_domain(domain, pattern) for pattern in allowed if pattern != "*")


def site_hosts(request: HttpRequest) -> Callable[[str | None], bool]:
    """The mounted sandbox's hosts: the request's own host, if the project names it,
    and loopback names (a page of the developer's on another local port).

    ``request.get_host()`` raises ``DisallowedHost`` (a 400) for a host outside
    ``ALLOWED_HOSTS``.
    """
    own = host_name(request.get_host())
    if own is not None and not _named_by_project(own):
        own = None

    def allowed(value: str | None) -> bool:
        name = host_name(value)
        return is_loopback(name) or (name is not None and name == own)

    return allowed


def _refused(message: str) -> HttpResponse:
    response = HttpResponse(message, status=403, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt
def sandbox_view(request: HttpRequest, subpath: str = "") -> HttpResponse:
    """Serve one sandbox endpoint, to callers the sandbox's rule lets in."""
    if not sandbox_enabled():
        raise Http404("The CaptchaLa sandbox is off")
    method = request.method or "GET"
    path = "/" + subpath.lstrip("/")
    reason = refusal(
        method, path, request.get_host(), request.headers.get("Origin"), site_hosts(request)
    )
    if reason is not None:
        return _refused(reason)
    cors = wants_cors(method, path)
    if method == "OPTIONS":  # a CORS preflight: granted for the browser check only
        response = HttpResponse(status=204)
        if not cors:
            response["Allow"] = "GET, POST, OPTIONS"
    else:
        response = _answer(request, method, path)
    if cors:
        for name, value in CORS_HEADERS.items():
            response[name] = value
    return response


def _answer(request: HttpRequest, method: str, path: str) -> HttpResponse:
    sandbox = get_sandbox()
    headers = {k: v for k, v in request.headers.items()}
    reply = sandbox.handle(method, path, headers, request.body)
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
