"""Who may call the sandbox: one rule for the standalone server and the mounted views.

Any page a developer's browser opens can send requests to the sandbox, so:

- only the hosts the sandbox serves under may appear in ``Host``, which defeats
  DNS rebinding (the standalone server: loopback names plus the ones it was given;
  the mounted views: the project's own host, as ``ALLOWED_HOSTS`` names it);
- CORS is granted only where a browser needs it: the loader and the browser check
  (``POST /sandbox/solve``). A request elsewhere (mint, faults, reset, the API) that
  carries the ``Origin`` of a page on another host is refused: a "simple" cross-site
  POST (``text/plain``) needs no preflight, so withholding CORS alone stops nothing.

Each front end says which host names are its own (a ``host_allowed`` predicate) and
answers a refusal from :func:`refusal` with a 403 before the :class:`Sandbox` sees it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from urllib.parse import urlsplit

#: The paths a page on another origin may call: the loader and the browser check.
CORS_GET_PATHS = frozenset({"/captchala-loader.js", "/loader.js"})
CORS_POST_PATHS = frozenset({"/sandbox/solve"})

#: The headers that grant CORS on those paths.
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
}

HOST_REFUSED = "host not allowed: the sandbox answers loopback and the names it is given only\n"
CROSS_SITE_REFUSED = "cross-site request refused\n"


def host_name(value: str | None) -> str | None:
    """The host name of a ``Host`` header value (lower case, no port), or None if malformed."""
    value = (value or "").strip().lower()
    if value.startswith("["):  # an IPv6 literal: [::1] or [::1]:8765
        name, bracket, port = value[1:].partition("]")
        if not bracket or (port and not (port[:1] == ":" and port[1:].isdigit())):
            return None
    else:
        name, colon, port = value.partition(":")
        if colon and not port.isdigit():
            return None
    return name or None


def is_loopback(name: str | None) -> bool:
    """Whether the host name ``name`` (from :func:`host_name`) is this machine's loopback."""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name or "").is_loopback
    except ValueError:
        return False


def allowed_name(value: str) -> str | None:
    """An allowed host as given (``name``, ``name:port``, ``[::1]``, ``::1``), as a host name."""
    value = value.strip()
    if value.count(":") > 1 and not value.startswith("["):
        value = f"[{value}]"  # a bare IPv6 address
    return host_name(value)


def wants_cors(method: str, path: str) -> bool:
    """Whether ``method path`` (relative to the sandbox root) is open to any origin."""
    if method == "GET":
        return path in CORS_GET_PATHS
    return method in ("POST", "OPTIONS") and path in CORS_POST_PATHS


def origin_host(origin: str) -> str | None:
    """The ``host[:port]`` of an ``Origin`` header; "" for an opaque origin (``null``)."""
    try:
        return urlsplit(origin).netloc
    except ValueError:
        return None


def refusal(
    method: str,
    path: str,
    host: str | None,
    origin: str | None,
    host_allowed: Callable[[str | None], bool],
) -> str | None:
    """Why this request may not reach the sandbox (the text of its 403), or None if it may.

    ``host`` and ``origin`` are the request's ``Host`` and ``Origin`` headers (None when
    absent); ``host_allowed`` says whether a ``Host`` value names this sandbox.
    """
    if not host_allowed(host):
        return HOST_REFUSED
    # No Origin: not a browser's cross-site request (curl, the site's own API client).
    cross_site = origin is not None and not host_allowed(origin_host(origin))
    if cross_site and not wants_cors(method, path):
        return CROSS_SITE_REFUSED
    return None
