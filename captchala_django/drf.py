"""Django REST framework support (install the ``drf`` extra).

* :class:`CaptchaLaTokenField`: a write-only serializer field; a bad or missing
  token is a 400 field error.
* :class:`CheckpointRequired`: a permission class; without a passed checkpoint
  the request gets 403 ``{"detail": ..., "code": "captcha_required"}``.

Both go through :func:`captchala_django.checkpoints.verify_and_record`, so every
check is a checkpoint. When CaptchaLa is down under the ``deny`` policy, both
answer 503 with ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _

try:
    from rest_framework import exceptions, serializers
    from rest_framework.permissions import BasePermission
except ImportError as exc:  # pragma: no cover - exercised by a subprocess test
    raise ImportError(
        "captchala_django.drf needs Django REST framework: pip install 'captchala-django[drf]'"
    ) from exc

from . import budgets, guard
from .actions import note_action
from .checkpoints import Outcome, skips_check, verify_and_record
from .codes import Code
from .exceptions import RequestRequired
from .models import FailureClass
from .scopes import ScopeArg
from .tokens import MULTIPLE_TOKENS

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise
    from rest_framework.request import Request
    from rest_framework.views import APIView


#: Set on a request once one of its items failed the check.
_ITEM_FAILED = "_captchala_item_failed"


class CaptchaUnavailable(exceptions.APIException):
    """503: CaptchaLa could not be asked (or the check could not be recorded)."""

    status_code = 503
    default_detail = _("The check could not be completed right now. Please try again.")
    default_code = "captcha_unavailable"
    wait = guard.RETRY_AFTER  # DRF turns this into a Retry-After header


class CaptchaRateLimited(exceptions.Throttled):
    """429 with ``Retry-After``: the client's budget of failed checks is spent."""

    default_detail = _("Too many attempts; try again in a minute.")
    default_code = "rate_limited"

    def __init__(self) -> None:
        # Throttled joins its detail with "Expected available in N seconds.": a str, now.
        super().__init__(wait=budgets.WINDOW, detail=str(self.default_detail))


class CaptchaRequired(exceptions.PermissionDenied):
    """403 with ``{"detail": ..., "code": "captcha_required"}``."""

    default_code = "captcha_required"

    def __init__(self, detail: StrOrPromise | None = None) -> None:
        message = detail or _("Please complete the check to continue.")
        super().__init__({"detail": message, "code": self.default_code})


class CaptchaLaTokenField(serializers.CharField):
    """The pass token of one submission, verified each time the field validates a value.

    Every item (``many=True``, a ``ListField`` or ``DictField`` child, at any depth) is a
    submission and needs its own token. ``is_valid()`` keeps its result, so validating
    one serializer again makes no second call. ``serializer.captchala_outcome`` holds
    the outcome once validated.
    """

    default_error_messages = {
        "required": _("Please complete the check."),
        "blank": _("Please complete the check."),
        "null": _("Please complete the check."),
        "invalid_token": _("The check was not passed. Please try again."),
    }

    def __init__(
        self,
        *,
        action: str | None = None,
        scope: ScopeArg = None,
        max_risk: int | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("write_only", True)
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)
        self.action = action
        self.scope = scope
        self.max_risk = max_risk
        note_action(action)

    def get_value(self, dictionary: Mapping[Any, Any]) -> Any:
        # A form-encoded body may carry the field twice; DRF would keep the last value.
        # Several tokens are refused, never guessed between (as every front door does).
        if hasattr(dictionary, "getlist") and len(dictionary.getlist(self.field_name)) > 1:
            return MULTIPLE_TOKENS
        return super().get_value(dictionary)

    def run_validation(self, data: Any = serializers.empty) -> Any:
        if data in (serializers.empty, None, "") and skips_check(self.context.get("request")):
            self._outcome("")  # staff skip: recorded, then nothing to validate
            return ""
        if data is serializers.empty and self.required:
            # A partial update (PATCH) would skip a missing field: the check never is.
            self.fail("required")
        return super().run_validation(data)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid_token")
        token = super().to_internal_value(data)
        outcome = self._outcome(token)
        if outcome.allowed:
            return token
        if outcome.rate_limited:
            raise CaptchaRateLimited()
        if outcome.retry_later:
            raise CaptchaUnavailable()
        self.fail("invalid_token")

    def _outcome(self, token: str) -> Outcome:
        """Verify ``token`` for the value being validated now; no verdict is kept.

        One field instance validates every item of a list or dict, however deep it sits,
        and nothing here tells one item from another: a kept verdict would answer them
        all. DRF validates a serializer's data once (``is_valid()`` keeps the result).
        """
        request = self.context.get("request")
        if request is None:
            raise RequestRequired("CaptchaLaTokenField needs the request in the context")
        if getattr(request, _ITEM_FAILED, False):
            # An item of this request failed its check, so the request is refused whatever
            # the others hold: they are not checked (no provider call, no rows), and a
            # list of a thousand items costs one check, not a thousand.
            outcome = Outcome(
                allowed=False, failure_class=FailureClass.VALIDATION, code=Code.NOT_CHECKED
            )
        else:
            # This submission's own token, every time: a pass covers one submission.
            outcome = verify_and_record(
                request,
                token,
                self.scope,
                self.action,
                reuse=False,
                max_risk=self.max_risk,
                door="serializer",
            )
            if not outcome.allowed:
                setattr(request, _ITEM_FAILED, True)
        if self.parent is not None:
            # Published on the serializer (documented); BaseSerializer declares no such field.
            self.parent.captchala_outcome = outcome  # type: ignore[attr-defined]
        return outcome


class CheckpointRequired(BasePermission):
    """Needs a passed checkpoint for the view's scope, or a valid token in this request.

    Configure on the view: ``captchala_scope``, ``captchala_action``,
    ``captchala_ttl``, ``captchala_max_risk`` and ``captchala_methods`` (default:
    every unsafe method; ``GET`` brings ``HEAD`` with it). The token is read as everywhere
    (:func:`captchala_django.tokens.read_token`): the ``CAPTCHALA_TOKEN_FIELD``
    key of the request data or the ``X-CaptchaLa-Token`` header, never both.
    ``request.captchala`` holds the outcome (``None`` when not checked).
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        # The documented per-request attribute; Request declares no such field.
        request.captchala = None  # type: ignore[attr-defined]
        methods = guard.guarded_methods(getattr(view, "captchala_methods", None))
        if not guard.is_guarded(request.method, methods):
            return True
        options = guard.Options(
            scope=getattr(view, "captchala_scope", None),
            ttl=getattr(view, "captchala_ttl", None),
            action=getattr(view, "captchala_action", None),
            max_risk=getattr(view, "captchala_max_risk", None),
            door="drf",
        )
        ruling = guard.evaluate(request, options, lambda: request.data)
        if ruling.kind == guard.ALLOW:
            return True
        if ruling.kind == guard.UNAVAILABLE:
            raise CaptchaUnavailable()
        if ruling.kind == guard.LIMITED:
            raise CaptchaRateLimited()
        if ruling.outcome is None and not ruling.conflict:
            raise CaptchaRequired()
        raise CaptchaRequired(_("The check was not passed. Please try again."))
