"""One log line per decision, and the signal after the write commits."""

from __future__ import annotations

import logging
import time

from django.db import transaction

from .. import signals
from ..models import Checkpoint, FailureClass
from .attempt import Attempt
from .outcome import Outcome

logger = logging.getLogger("captchala_django.checkpoints")

_LEVELS: dict[str | None, int] = {
    FailureClass.CONFIGURATION: logging.ERROR,
    FailureClass.PERSISTENCE: logging.ERROR,
    FailureClass.TIMEOUT: logging.WARNING,
    FailureClass.PROVIDER: logging.WARNING,
    FailureClass.REPLAY: logging.WARNING,
}


def log(att: Attempt, outcome: Outcome, error: Exception | None = None) -> None:
    """The decision line: never the token, the secret or a session key."""
    level = _LEVELS.get(outcome.failure_class, logging.INFO)
    if not logger.isEnabledFor(level):
        return
    fields = {
        "decision": outcome.decision,
        "failure_class": outcome.failure_class or "",
        "code": outcome.code,
        "scope_kind": att.scope.kind,
        "route": att.scope.route,
        "version": outcome.checkpoint.version if outcome.checkpoint is not None else None,
        "latency_ms": int((time.monotonic() - att.started) * 1000),
        "request_id": att.request_id,
        "provider_called": outcome.provider_called,
        "from_ledger": outcome.from_ledger,
    }
    logger.log(
        level,
        "captcha decision=%(decision)s class=%(failure_class)s code=%(code)s "
        "scope_kind=%(scope_kind)s route=%(route)s version=%(version)s "
        "latency_ms=%(latency_ms)s request_id=%(request_id)s",
        fields,
        exc_info=error if level >= logging.WARNING and error is not None else None,
        extra={"captchala": fields},
    )


def signal(att: Attempt, outcome: Outcome) -> None:
    """``checkpoint_passed`` / ``_failed`` / ``_degraded``, after commit when it was written."""
    if outcome.degraded:
        sent = signals.checkpoint_degraded
    elif outcome.failure_class is None:
        sent = signals.checkpoint_passed
    else:
        sent = signals.checkpoint_failed

    def send() -> None:
        replies = sent.send_robust(
            sender=Checkpoint, checkpoint=outcome.checkpoint, outcome=outcome, request=att.request
        )
        for receiver, reply in replies:
            if isinstance(reply, Exception):
                logger.error(
                    "signal receiver %r raised %s", receiver, type(reply).__name__, exc_info=reply
                )

    if outcome.persisted:
        transaction.on_commit(send, using=att.db)
    else:
        send()
