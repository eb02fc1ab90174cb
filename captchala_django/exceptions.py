"""Error classes.

Everything the package raises is a :class:`CaptchaLaError`: the client's
transport, protocol and configuration errors, and :class:`PersistenceError`,
which the write path turns a database error into once its retry failed. A
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


class PersistenceError(CaptchaLaError):
    """A checkpoint could not be written, even after one retry."""
