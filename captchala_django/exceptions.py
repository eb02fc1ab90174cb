"""Error classes.

Everything the package raises is a :class:`CaptchaLaError`: the client's
transport, protocol and configuration errors, :class:`PersistenceError`, which
the write path turns a database error into once its retry failed, and
:class:`BudgetExceeded`, a client past its budget of provider calls. A
verdict (valid or invalid token) is never an exception, it is a
``ValidationResult``.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


class CaptchaLaError(Exception):
    """Base class. ``code`` is the provider's error code when there is one."""

    def __init__(self, message: str = "", *, code: str = "", status: int | None = None):
        super().__init__(message)
        self.code = code
        self.status = status

    def __str__(self) -> str:
        text = super().__str__()
        extra = []
        if self.code:
            extra.append(f"code={self.code}")
        if self.status is not None:
            extra.append(f"http={self.status}")
        return f"{text} ({', '.join(extra)})" if extra else text


class ProviderUnavailable(CaptchaLaError):
    """The provider could not be reached or answered 5xx without a verdict."""


class ProviderTimeout(ProviderUnavailable):
    """The provider did not answer within ``CAPTCHALA_TIMEOUT``."""


class ProviderRateLimited(ProviderUnavailable):
    """The provider's rate limit was reached (``rate_limit_exceeded`` or HTTP 429).

    No verdict on the token: like an outage, the user is asked to try again later.
    """


class ProviderResponseError(CaptchaLaError):
    """The provider answered, but not with a well-formed envelope."""


class ProviderRejected(CaptchaLaError):
    """The provider refused a non-validate call (for example ``invalid_action``)."""


class ConfigurationError(CaptchaLaError, ImproperlyConfigured):
    """Our keys or settings are wrong (missing, ``invalid_app_key``, HTTP 401/403...).

    It derives from ``ImproperlyConfigured`` so that no fail-open policy can
    swallow a misconfiguration by accident.
    """


class RequestRequired(ConfigurationError):
    """A front door was used without the request it needs (a form without ``request=``,
    a serializer without the request in its context)."""


class PersistenceError(CaptchaLaError):
    """A checkpoint could not be written, even after one retry."""


class BudgetExceeded(CaptchaLaError):
    """This client has caused its share of provider calls for this minute
    (:mod:`captchala_django.budgets`)."""

    def __init__(self, retry_after: int, message: str = "budget used up") -> None:
        super().__init__(f"{message}; retry in {retry_after}s")
        self.retry_after = retry_after


class BudgetUnavailable(BudgetExceeded):
    """The budget's cache is down: nothing can be counted, so nothing is spent."""


class ValidateBudgetExceeded(BudgetExceeded):
    """The client's budget of failed checks is spent. ``first``: the first refusal of
    this client in this minute (the one worth a database record; the rest are logged)."""

    def __init__(self, retry_after: int, first: bool) -> None:
        super().__init__(retry_after, "validate budget used up")
        self.first = first
