from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from captchala_django.scopes import Scope


def make_request(ip: str = "203.0.113.7", path: str = "/protected/", **extra):
    request = RequestFactory().post(path, REMOTE_ADDR=ip, **extra)
    request.session = SessionStore()
    return request


def scope(subject: str = "s1", route: str = "route") -> Scope:
    return Scope("session", subject, route)
