"""Django's database session store, remembering when its save failed for want of a database.

Django answers a session that cannot be saved at the end of a request with 400
(``SessionInterrupted``: "the user may have logged out in a concurrent request"),
also when the database is briefly unreachable. This store notes that case, so
that :class:`demo.middleware.SessionWriteFailedMiddleware` can answer it as the
outage it is: 503 with ``Retry-After``.
"""

from __future__ import annotations

from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import DatabaseError


class SessionStore(DatabaseSessionStore):
    database_failed = False

    def save(self, must_create: bool = False) -> None:
        try:
            super().save(must_create)
        except UpdateError as exc:
            # Django raises UpdateError from inside its ``except DatabaseError``.
            if isinstance(exc.__context__, DatabaseError):
                self.database_failed = True
            raise
