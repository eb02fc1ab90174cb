"""Scopes: what a checkpoint is about, and what resolving one costs."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.middleware import SessionMiddleware
from django.db import connection
from django.http import HttpResponse
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from captchala_django.scopes import Scope, resolve_scope, session_key_of, with_subject

pytestmark = pytest.mark.django_db


def request_with(cookie: str | None = None, **extra):
    """A request through the session and auth middleware, as a view would see it."""
    factory = RequestFactory()
    request = factory.post("/somewhere/", REMOTE_ADDR="198.51.100.7", **extra)
    if cookie:
        request.COOKIES["sessionid"] = cookie
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    AuthenticationMiddleware(lambda r: HttpResponse()).process_request(request)
    return request


def custom_scope(request):
    return "tenant-42"


def test_the_key_is_an_hmac_of_kind_subject_and_route():
    a = Scope("session", "abc", "route")
    assert len(a.key) == 64 and "abc" not in a.key
    assert a.key != Scope("session", "abc", "other").key != Scope("ip", "abc", "route").key


def test_a_live_session_is_its_scope_and_resolving_it_loads_no_user():
    session = SessionStore()
    session.save()
    request = request_with(session.session_key)
    with CaptureQueriesContext(connection) as queries:
        scope = resolve_scope(request, "session", route="r")
    assert (scope.kind, scope.subject, scope.user_id) == ("session", session.session_key, None)
    assert all("auth_user" not in q["sql"] for q in queries)  # the fast path needs no user
    assert len(queries) == 1  # the session row, once


@pytest.mark.parametrize("cookie", [None, "made-up-cookie-value-123", "deleted"])
def test_no_session_dead_or_made_up_cookie_is_the_anonymous_scope(cookie):
    if cookie == "deleted":
        session = SessionStore()
        session.save()
        cookie = session.session_key
        session.delete()
    request = request_with(cookie)
    scope = resolve_scope(request, "session", route="r")
    assert scope.anonymous and scope.subject == ""
    assert session_key_of(request.session) is None


def test_a_session_is_created_only_by_with_subject():
    request = request_with()
    scope = resolve_scope(request, None, route="r")
    assert scope.anonymous and request.session.session_key is None
    passed = with_subject(request, scope)
    assert not passed.anonymous and passed.subject == request.session.session_key
    assert passed.route == "r"


def test_user_scope_names_the_user_and_falls_back_to_the_session():
    user = get_user_model().objects.create_user("u1")
    request = request_with()
    request.user = user
    assert resolve_scope(request, "user", route="r") == Scope("user", str(user.pk), "r", user.pk)
    anonymous = resolve_scope(request_with(), "user", route="r")
    assert anonymous.kind == "session" and anonymous.anonymous


def test_ip_and_custom_scopes():
    request = request_with()
    assert resolve_scope(request, "ip", route="r") == Scope("ip", "198.51.100.7", "r")
    assert resolve_scope(request, custom_scope, route="r").subject == "tenant-42"
    dotted = resolve_scope(request, "tests.test_scopes.custom_scope", route="r")
    assert (dotted.kind, dotted.subject) == ("custom", "tenant-42")


def test_the_route_is_the_url_name_else_the_path():
    from django.urls import resolve

    request = request_with()
    assert resolve_scope(request, "ip").route == "/somewhere/"
    request.resolver_match = resolve("/transfer/")
    assert resolve_scope(request, "ip").route == "transfer"


def test_a_signed_cookie_session_counts_only_with_its_signature():
    from django.contrib.sessions.backends.signed_cookies import SessionStore as Signed

    real = Signed()
    real["seen"] = True
    real.save()
    assert session_key_of(Signed(real.session_key)) == real.session_key
    forged = real.session_key[:-3] + ("aaa" if not real.session_key.endswith("aaa") else "bbb")
    assert session_key_of(Signed(forged)) is None
    assert session_key_of(Signed("made-up-cookie")) is None
