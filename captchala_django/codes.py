"""Outcome codes: why a check ended as it did, one enum for every module that reads them.

The values are what is stored (``CheckpointEvent.detail``, ``PassToken.code``,
``Checkpoint.failure_detail``), logged and shown on the dashboard; renaming one
is a data migration. A provider's own code that is not listed here (an
``error`` string of a reply) travels as a plain ``str``.
"""

from __future__ import annotations

import enum
import sys

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:  # pragma: no cover - Python 3.10

    class StrEnum(str, enum.Enum):
        """``enum.StrEnum`` of Python 3.11: members are their values as ``str``."""

        def __str__(self) -> str:
            return str(self.value)


class Code(StrEnum):
    """Every outcome code this package gives (the provider's known codes included)."""

    # A verified pass, and the answers a pass gives without a provider call.
    OK = "ok"
    CHECKPOINT_PASSED = "checkpoint_passed"
    LEDGER_RETRY = "ledger_retry"
    SEEN_WITH_PASS = "seen_with_pass"
    STAFF_SKIP = "staff_skip"
    #: A form step validated again with the receipt of the check it passed (a wizard).
    STEP_VERIFIED = "step_verified"
    PASS_NOT_KEPT = "pass_not_kept"
    # The token's form, refused before any call.
    MISSING_TOKEN = "missing_token"
    TOKEN_TOO_LONG = "token_too_long"
    MALFORMED_TOKEN = "malformed_token"
    # Refused for what the ledger knows.
    TOKEN_REPLAYED = "token_replayed"
    TOKEN_REUSED = "token_reused"
    CLAIM_IN_FLIGHT = "claim_in_flight"
    # A verdict refused by a rule of ours.
    TOKEN_ACTION_MISMATCH = "token_action_mismatch"
    IP_MISMATCH = "ip_mismatch"
    RISK_TOO_HIGH = "risk_too_high"
    CLIENT_ONLY = "client_only"
    CLIENT_TOKEN_REFUSED = "client_token_refused"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    #: Not checked: another item of the same request failed its check first.
    NOT_CHECKED = "not_checked"
    # No verdict.
    TIMEOUT = "timeout"
    PROVIDER_ERROR = "provider_error"
    CONFIGURATION = "configuration"
    # The provider's codes (CAPTCHALA_API.md).
    INVALID_TOKEN = "invalid_token"
    TOKEN_CONSUMED = "token_consumed"
    DEGRADED = "degraded"
    RATE_LIMIT_EXCEEDED = "rate_limit_exceeded"
    INVALID_APP_KEY = "invalid_app_key"
    INVALID_APP_SECRET = "invalid_app_secret"
    APP_DISABLED = "app_disabled"


__all__ = ["Code", "StrEnum"]
