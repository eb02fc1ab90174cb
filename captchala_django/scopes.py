"""Scopes: what a checkpoint is about (kind + subject + route).

A scope's ``key`` is an HMAC of its parts keyed by ``SECRET_KEY``, so the
subject (a session key, a user id, an address) is never stored in clear.

A client without a session yet (no cookie), or on a site without a session
store, has an *anonymous* session scope: its subject is empty and one row per
route holds every such client's failures. No session is created for it until a check passes
(:func:`with_subject`), so a cookieless flood stores no sessions; a pass is
never written to an anonymous scope.

``scope`` arguments across the package accept ``None`` (the
``CAPTCHALA_DEFAULT_SCOPE``), ``"session"``, ``"user"``, ``"ip"``, a
:class:`Scope`, or a callable / dotted path ``f(request) -> str | Scope``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Union

from django.contrib.sessions.backends import signed_cookies
from django.db import DatabaseError
from django.http import HttpRequest
from django.utils.crypto import salted_hmac
from django.utils.module_loading import import_string

from .conf import app_settings
from .ip import get_client_ip

if TYPE_CHECKING:
    from django.contrib.sessions.backends.base import SessionBase
    from django.urls import ResolverMatch

ScopeArg = Union[None, str, "Scope", Callable[[HttpRequest], "str | Scope"]]


@dataclass(frozen=True)
class Scope:
    """A kind, its subject and a route. ``user_id`` is set by the ``user`` scope; for
    the others the user is resolved only when a checkpoint row is written."""

    kind: str
    subject: str = field(repr=False)
    route: str = ""
    user_id: int | None = None
    #: The CaptchaLa app of the request, with keys per site (``CAPTCHALA_KEYS_RESOLVER``):
    #: a pass one app judged never answers for another. Empty: the settings' keys.
    app: str = ""

    @property
    def anonymous(self) -> bool:
        """A scope without a subject (a client without a session yet, and no other way to
        tell it apart): every such client shares its key, so it can never hold a pass."""
        return not self.subject

    @cached_property
    def key(self) -> str:
        """The scope's row key: an HMAC, so that a session key is never stored."""
        value = f"{self.kind}\x00{self.subject}\x00{self.route}"
        if self.app:  # only with keys per site: single-app sites keep their keys
            value += f"\x00{self.app}"
        return salted_hmac("captchala_django.scope", value, algorithm="sha256").hexdigest()


def route_of(request: HttpRequest) -> str:
    """The route a request is for: its URL name when it has one, else its path."""
    match: ResolverMatch | None = getattr(request, "resolver_match", None)
    if match is not None and match.view_name:
        return match.view_name[:200]
    return request.path[:200]


def user_id_of(request: HttpRequest) -> int | None:
    """The authenticated user's id, or ``None`` (resolves ``request.user``).

    ``None`` too when the session or user tables cannot be read: the client is then
    asked for a token like any client without a pass, never trusted more.
    """
    if not hasattr(request, "user"):  # no AuthenticationMiddleware
        return None
    try:
        user = request.user
        if user is not None and user.is_authenticated:
            return user.pk
    except DatabaseError:
        return None
    return None


def session_key_of(session: SessionBase) -> str | None:
    """The key of a session that exists, or ``None``.

    A session store reports the cookie's value as its key until the session is
    loaded; loading drops a key with no stored session (deleted, expired, rotated
    away by ``login()``, or made up). So the store is loaded first: a dead or
    forged cookie is a client without a session, and so is one whose session cannot
    be read while the database is unreachable.
    """
    try:
        session.keys()  # loads the session (once per request)
    except DatabaseError:
        return None
    key = session.session_key
    if key and isinstance(session, signed_cookies.SessionStore) and not _signed(session, key):
        # The cookie store keeps a cookie that fails its signature as the key (it resets
        # only the data): a made-up cookie would be a session of its own.
        return None
    return key


def _signed(session: signed_cookies.SessionStore, key: str) -> bool:
    """Whether the cookie store itself takes ``key`` for a session: its ``load()`` resets
    (``create()``, which marks the store modified) on a bad signature or an expired one."""
    probe = type(session)(key)
    probe.load()
    return not probe.modified


def session_scope(request: HttpRequest, route: str) -> Scope:
    session = getattr(request, "session", None)
    if session is None:
        # No session store (an API-only site): nothing tells this client apart. Never its
        # address, which would make one client's pass everyone's behind it: a scope
        # without a subject, so a pass lets its one request through and keeps nothing.
        return Scope("session", "", route)
    # No session is created here: only a passed check makes one (with_subject).
    # No user lookup here: this runs on every guarded request (the fast path), and the
    # user is resolved only when a row is written.
    return Scope("session", session_key_of(session) or "", route)


def user_scope(request: HttpRequest, route: str) -> Scope:
    user_id = user_id_of(request)
    if user_id is None:
        return session_scope(request, route)
    return Scope("user", str(user_id), route, user_id)


def ip_scope(request: HttpRequest, route: str) -> Scope:
    address = get_client_ip(request)
    if address:
        return Scope("ip", address, route)
    # No address (say, a server on a unix socket with no trusted proxy set up): the
    # client is told apart by its session, or not at all. A constant subject would
    # make one client's pass every such client's.
    if getattr(request, "session", None) is not None:
        return session_scope(request, route)
    return Scope("ip", "", route)


BUILTIN = {"session": session_scope, "user": user_scope, "ip": ip_scope}


def resolve_scope(request: HttpRequest, scope: ScopeArg = None, route: str | None = None) -> Scope:
    """Turn a ``scope`` argument into a :class:`Scope` for ``request`` (of its app, with
    keys per site)."""
    found = _resolve_scope(request, scope, route)
    from .keys import app_of

    app = app_of(request)
    return replace(found, app=app) if app and not found.app else found


def _resolve_scope(request: HttpRequest, scope: ScopeArg, route: str | None) -> Scope:
    if scope is None:
        scope = app_settings.DEFAULT_SCOPE
    if isinstance(scope, Scope):
        return scope
    route = route if route is not None else route_of(request)
    resolver: Callable[[HttpRequest], str | Scope]
    if isinstance(scope, str):
        if scope in BUILTIN:
            return BUILTIN[scope](request, route)
        resolver = import_string(scope)
    else:
        resolver = scope
    # Typed ``str | Scope``, but resolvers in the wild answer None, False or an int too.
    value: object = resolver(request)
    if isinstance(value, Scope):
        return value
    if value is None or value is False or value == "":
        # Nothing to tell this client apart by (``lambda r: r.user.pk`` for a visitor, or
        # ``r.user.is_authenticated and r.user.pk``):
        # its session, as for the ``user`` scope, never one key shared by all of them.
        return session_scope(request, route)
    return Scope("custom", str(value), route)


def with_subject(request: HttpRequest, scope: Scope) -> Scope:
    """``scope``, or for an anonymous one the scope of a session created now.

    Called only once a check has passed: that is when a client earns a session row.
    """
    if not scope.anonymous:
        return scope
    session = getattr(request, "session", None)
    if session is None:  # no session store: nothing can keep this client's pass
        return scope
    if not session.session_key:
        session.save()
    key = session.session_key
    assert key is not None  # save() gave the session its key
    return Scope("session", key, scope.route, scope.user_id, scope.app)
