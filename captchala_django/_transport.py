"""The client's HTTP plumbing: how a session is made, pooled per process, and told the
environment's proxies and CA bundle once.

Private to :mod:`captchala_django.client`, which re-exports what is public of it (and is,
with it, the only code that imports ``requests``).
"""

from __future__ import annotations

import functools
import http.cookiejar
import os
import threading
from collections.abc import Callable

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from . import __version__

USER_AGENT = f"captchala-django/{__version__} python-requests/{requests.__version__}"

_session_lock = threading.Lock()
# One pooled session per process for each class that defines ``create_session`` (the
# default client's, and each override's), so keep-alive connections are reused.
_sessions: dict[object, requests.Session] = {}
_sessions_pid: int | None = None


def create_session(pool_maxsize: int = 64) -> requests.Session:
    """A session with keep-alive pooling and one retry of *connect* failures only.

    A read error or read timeout is never retried: the request may have reached
    the provider, and a second validate of a consumed token would turn a real
    pass into ``token_consumed``.
    """
    session = requests.Session()
    retry = Retry(
        total=1,
        connect=1,
        read=False,
        status=0,
        other=0,
        redirect=0,
        allowed_methods=None,
        raise_on_status=False,
    )
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    # No cookie state shared between threads: the API is stateless.
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    # requests would rescan the environment (proxies, CA bundle) and read ~/.netrc on
    # every call; environment_for() resolves the same settings once per URL instead.
    session.trust_env = False
    return session


@functools.lru_cache(maxsize=16)
def environment_for(url: str) -> tuple[dict[str, str], bool | str]:
    """The proxies (``HTTPS_PROXY``, ``NO_PROXY``...) and CA bundle (``REQUESTS_CA_BUNDLE``,
    ``CURL_CA_BUNDLE``) the environment sets for ``url``, as requests reads them.

    Resolved once per process and URL; :func:`reset_session` forgets them.
    """
    proxies = requests.utils.get_environ_proxies(url)
    verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return proxies, verify


def pooled(owner: object, make: Callable[[], requests.Session]) -> requests.Session:
    """The process's session for ``owner`` (a new one after ``fork``), made once by ``make``."""
    global _sessions_pid
    pid = os.getpid()
    session = _sessions.get(owner) if _sessions_pid == pid else None
    if session is None:
        with _session_lock:
            if _sessions_pid != pid:
                _sessions.clear()  # the parent's: its sockets are not this process's to close
                _sessions_pid = pid
            session = _sessions.get(owner)
            if session is None:
                session = _sessions[owner] = make()
    return session


def reset_session() -> None:
    """Drop the process's sessions (their pooled connections are closed), those of
    ``create_session`` overrides too, and the environment settings resolved for them."""
    global _sessions_pid
    environment_for.cache_clear()
    with _session_lock:
        for session in _sessions.values():
            session.close()
        _sessions.clear()
        _sessions_pid = None
