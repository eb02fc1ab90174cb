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
    #: The request carried several tokens (a field twice, or a field and the header).
    SEVERAL_TOKENS = "several_tokens"
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


#: What each code means, in users' words (the documentation's reference table is generated
#: from it; ``tests/test_check_catalogue.py`` holds it to the enum).
MEANING: dict[Code, str] = {
    Code.OK: "a valid verdict from CaptchaLa, recorded",
    Code.CHECKPOINT_PASSED: "a passed, unexpired checkpoint of the scope let the request "
    "through (no provider call)",
    Code.LEDGER_RETRY: "a resubmitted token answered from the replay ledger as an idempotent "
    "retry, within `CAPTCHALA_RETRY_WINDOW`",
    Code.SEEN_WITH_PASS: "a token shown on a request that a pass already let through, claimed "
    "for that pass's scope without a provider call",
    Code.STAFF_SKIP: "a staff user skipped the check (`CAPTCHALA_SKIP_FOR_STAFF`); no pass kept",
    Code.STEP_VERIFIED: "a wizard step validated again with the receipt of the check it passed",
    Code.PASS_NOT_KEPT: "a passed check let its request through, but the scope has no subject "
    "to keep a pass for (no session store, no address)",
    Code.MISSING_TOKEN: "no token was posted, or an empty one",
    Code.TOKEN_TOO_LONG: "the token is over 4 KiB: refused without a provider call",
    Code.MALFORMED_TOKEN: "the token has a character that is not printable ASCII (a space "
    "included): refused without a provider call",
    Code.SEVERAL_TOKENS: "the request carried several tokens (a field twice, or a field and "
    "the header): refused without a provider call",
    Code.TOKEN_REPLAYED: "the token was claimed for another scope (or another submission)",
    Code.TOKEN_REUSED: "the token was claimed before for this scope and can no longer be a "
    "retry: past `CAPTCHALA_RETRY_WINDOW`, or its checkpoint was reset or expired",
    Code.CLAIM_IN_FLIGHT: "another request is still validating the same token past the wait "
    "(try again later)",
    Code.TOKEN_ACTION_MISMATCH: "the token was solved for another action (or, with "
    "`CAPTCHALA_REQUIRE_ACTION`, for none)",
    Code.IP_MISMATCH: "CaptchaLa saw the check solved from another address "
    "(`CAPTCHALA_DENY_IP_MISMATCH`)",
    Code.RISK_TOO_HIGH: "the verdict's risk score is above `max_risk`",
    Code.CLIENT_ONLY: "an unverifiable `client_` token accepted under "
    "`CAPTCHALA_ACCEPT_CLIENT_ONLY`; no pass kept",
    Code.CLIENT_TOKEN_REFUSED: "a `client_` token, which cannot be verified: refused",
    Code.TOO_MANY_ATTEMPTS: "the client's budget of failed checks is spent "
    "(`CAPTCHALA_VALIDATE_BUDGET`): 429, no provider call",
    Code.NOT_CHECKED: "not checked: another item of the same request failed its check first",
    Code.TIMEOUT: "CaptchaLa did not answer within `CAPTCHALA_TIMEOUT`",
    Code.PROVIDER_ERROR: "CaptchaLa could not be reached, dropped the connection, answered "
    "5xx, redirected, or sent a reply that is not a verdict",
    Code.CONFIGURATION: "the keys are missing or CaptchaLa refused them, so no check could "
    "be made (logged at ERROR)",
    Code.INVALID_TOKEN: "CaptchaLa: the token is not one it issued, or it expired",
    Code.TOKEN_CONSUMED: "CaptchaLa: the token was already used",
    Code.DEGRADED: "CaptchaLa: a quota-exhausted (`degraded`) verdict; accepted only under "
    "`CAPTCHALA_ACCEPT_DEGRADED`",
    Code.RATE_LIMIT_EXCEEDED: "CaptchaLa's own rate limit: no verdict on the token (try again "
    "later)",
    Code.INVALID_APP_KEY: "CaptchaLa: the app key is wrong",
    Code.INVALID_APP_SECRET: "CaptchaLa: the app secret is wrong",
    Code.APP_DISABLED: "CaptchaLa: the app is disabled",
}

__all__ = ["MEANING", "Code", "StrEnum"]
