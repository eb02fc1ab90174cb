"""The least a guard can do on the fast path and keep its guarantees, written by hand.

One indexed query for a passed, unexpired checkpoint of the client's session scope;
a token the request carries anyway (body field or header) is claimed for that scope
(one insert), as DESIGN §8 asks. No options, no budget, no outcome object, no log
line: the floor ``checkpoint_required`` is measured against.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.utils.crypto import salted_hmac

from tests.views import typical_page

_PASSED = (
    "SELECT id FROM captchala_django_checkpoint "
    "WHERE scope_key = %s AND status = 'passed' AND expires_at > %s"
)
_CLAIM = (
    "INSERT INTO captchala_django_passtoken (token_digest, scope_key, state, allowed, "
    "degraded, failure_class, code, created_at, expires_at) "
    "VALUES (%s, %s, 'done', true, false, '', 'seen_with_pass', %s, %s) "
    "ON CONFLICT (token_digest) DO NOTHING"
)


def least_guard(view: Callable[[HttpRequest], HttpResponse], route: str):
    def wrapper(request: HttpRequest) -> HttpResponse:
        session_key = request.session.session_key or ""
        key = salted_hmac(
            "captchala_django.scope", f"session\x00{session_key}\x00{route}", algorithm="sha256"
        ).hexdigest()
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(_PASSED, [key, now])
            if cursor.fetchone() is None:
                return HttpResponseForbidden()
            tokens = request.POST.getlist("captchala_token")
            if "HTTP_X_CAPTCHALA_TOKEN" in request.META:
                tokens.append(request.META["HTTP_X_CAPTCHALA_TOKEN"])
            for token in tokens[:4]:
                digest = salted_hmac("t", token, algorithm="sha256").hexdigest()
                cursor.execute(_CLAIM, [digest, key, now, now + timedelta(days=1)])
        return view(request)

    return wrapper


#: The pass it finds is the one ``/guarded-typical-page/`` made (the same route name).
least_guarded_typical_page = least_guard(typical_page, "guarded-typical-page")
