"""What one check knows, gathered once, and the small helpers every step shares."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.db import connections, router
from django.http import HttpRequest
from django.utils import timezone

from ..conf import app_settings
from ..ip import get_client_ip
from ..models import Checkpoint
from ..scopes import Scope, ScopeArg, resolve_scope, user_id_of


def token_digest(pass_token: str) -> str:
    """HMAC-SHA256 of a pass token keyed by the app secret: what is stored, never the token."""
    key = app_settings.APP_SECRET.encode()
    return hmac.new(key, pass_token.encode(), hashlib.sha256).hexdigest()


#: A request attribute the step-up sets when it asked for this check (why, for the record).
STEP_UP_NOTE = "_captchala_step_up_note"


def db_alias() -> str:
    """The database every trust decision reads from and writes to (never a replica)."""
    return router.db_for_write(Checkpoint)


def request_id_of(request: HttpRequest | None) -> str:
    """``X-Request-ID`` when sane, else a generated id; kept on the request."""
    if request is None:
        return uuid.uuid4().hex
    cached: str | None = getattr(request, "_captchala_request_id", None)
    if cached:
        return cached
    given: str = request.META.get("HTTP_X_REQUEST_ID", "")
    if not (0 < len(given) <= 64 and all("!" <= ch <= "~" for ch in given)):
        given = uuid.uuid4().hex
    # Kept on the request for the other steps of this request; HttpRequest declares no such field.
    request._captchala_request_id = given  # type: ignore[attr-defined]
    return given


def aware(value: Any, db: str) -> Any:
    """A datetime read back from ``db`` (raw SQL may give text or naive values), made aware."""
    if isinstance(value, str):
        connection = connections[db]
        # Defined by the backends that keep datetimes as text (SQLite, MySQL, Oracle):
        # BaseDatabaseOperations has no such method.
        convert = getattr(connection.ops, "convert_datetimefield_value", None)
        if convert is not None:
            value = convert(value, None, connection)
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and timezone.is_naive(value):
        value = timezone.make_aware(value, dt_timezone.utc)
    return value


@dataclass
class Attempt:
    """Everything one check knows, gathered once."""

    request: HttpRequest | None
    scope: Scope
    client_ip: str | None
    request_id: str
    db: str
    action: str | None
    ttl: int
    #: Whether a pass already recorded (checkpoint or ledger) may answer this check.
    reuse: bool = True
    digest: str = ""
    #: ``offline_`` tokens are checked at the backup URL: never under a fail-open policy.
    offline: bool = False
    #: A valid verdict whose ``risk_score`` is above this is denied (``risk_too_high``).
    max_risk: int | None = None
    started: float = field(default_factory=time.monotonic)
    #: When the token was received: the record's time.
    received_at: datetime = field(default_factory=timezone.now)
    #: What the steps learned for the record (token hint, provider reply, ...).
    trail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        request: HttpRequest,
        scope: ScopeArg,
        action: str | None,
        ttl: int | None,
        route: str | None,
        reuse: bool,
        max_risk: int | None = None,
    ) -> Attempt:
        return cls(
            request=request,
            scope=resolve_scope(request, scope, route),
            client_ip=get_client_ip(request),
            request_id=request_id_of(request),
            db=db_alias(),
            action=action,
            ttl=int(ttl if ttl is not None else app_settings.CHECKPOINT_TTL),
            reuse=reuse,
            max_risk=max_risk if max_risk is not None else app_settings.MAX_RISK,
        )

    @property
    def user_id(self) -> int | None:
        """The user the checkpoint row names: resolved only when a row is written."""
        if self.scope.user_id is not None or self.request is None:
            return self.scope.user_id
        return user_id_of(self.request)

    def note(self, **values: Any) -> None:
        """Keep ``values`` for the check's record (columns of ``rows.RECORD_COLUMNS``)."""
        if "detail" in values:
            values["detail"] = str(values["detail"])[:200]
        self.trail.update(values)
