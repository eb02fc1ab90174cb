"""``Outcome``: what a check decided, as every front door and caller sees it."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..client import ValidationResult
from ..codes import Code
from ..models import Checkpoint, FailureClass

#: Classes denied for want of an answer, not for a bad token.
RETRY_LATER = frozenset(
    {
        FailureClass.TIMEOUT,
        FailureClass.PROVIDER,
        FailureClass.CONFIGURATION,
        FailureClass.PERSISTENCE,
    }
)


@dataclass(frozen=True)
class Outcome:
    """What a check decided.

    ``failure_class`` is ``None`` or one of ``validation``, ``replay``,
    ``timeout``, ``provider``, ``persistence``, ``configuration``, ``rate_limited``. ``degraded``
    is true when the request is let through without a recorded, verified pass.
    """

    allowed: bool
    failure_class: FailureClass | None = None
    checkpoint: Checkpoint | None = None
    degraded: bool = False
    #: The provider's (or our local) code: ``ok``, ``invalid_token``, ``token_replayed``...
    code: Code | str = ""
    #: Whether this call made a provider call.
    provider_called: bool = False
    #: Whether the checkpoint write committed.
    persisted: bool = True
    #: Whether the answer came from the replay ledger (an earlier processing of the token).
    from_ledger: bool = False
    #: The verdict, when there was one.
    result: ValidationResult | None = field(default=None, repr=False)

    @property
    def retry_later(self) -> bool:
        """Denied for want of an answer (provider, configuration, database), not for a bad
        token: the user should be asked to try again later, not to solve a new check."""
        return not self.allowed and self.failure_class in RETRY_LATER

    @property
    def rate_limited(self) -> bool:
        """Refused without a provider call: the client's budget of failed checks is
        spent (answered 429 with ``Retry-After``; the token was never judged)."""
        return not self.allowed and self.failure_class == FailureClass.RATE_LIMITED

    @property
    def decision(self) -> str:
        """``allow``, ``deny`` or ``degrade``, as logged and stored on events."""
        if self.degraded:
            return "degrade"
        return "allow" if self.allowed else "deny"


#: A refusal because the client's budget of failed checks is spent (no provider call,
#: nothing stored): the one answer every front door gives for it.
RATE_LIMITED = Outcome(
    allowed=False,
    failure_class=FailureClass.RATE_LIMITED,
    code=Code.TOO_MANY_ATTEMPTS,
    persisted=False,
)
