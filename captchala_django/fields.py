"""``CaptchaLaField``: a form field that turns the posted pass token into a checkpoint."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.boundfield import BoundField
from django.http import HttpRequest
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from . import stepup
from .codes import Code
from .conf import app_settings
from .exceptions import RequestRequired
from .request_context import NO_REQUEST_HELP, current_request
from .scopes import ScopeArg
from .tokens import MULTIPLE_TOKENS, RECEIPT_USE_ATTRIBUTE, STAFF_RECEIPT, is_receipt
from .widgets import CaptchaLaWidget

if TYPE_CHECKING:
    from .checkpoints import Outcome

logger = logging.getLogger("captchala_django.fields")

#: Login forms, by their classes (a form is one when any of its classes is): the staff
#: skip never applies to them unless the field says so (named, so that neither needs
#: importing: django.contrib.auth may be left out, allauth is optional).
_LOGIN_FORMS = frozenset(
    {
        ("django.contrib.auth.forms", "AuthenticationForm"),
        ("allauth.account.forms", "LoginForm"),
    }
)

#: Set on a request once a form field's check of it failed (see CaptchaLaField.clean).
_FORM_CHECK_FAILED = "_captchala_form_check_failed"


def _request_of(form: forms.BaseForm | None) -> HttpRequest | None:
    """The request a form's check runs for: ``form.request`` when the form was given one,
    else the request being served (:func:`~captchala_django.request_context.current_request`)."""
    request = getattr(form, "request", None)
    return request if request is not None else current_request()


class _CaptchaLaBoundField(BoundField):
    def as_widget(
        self,
        widget: forms.Widget | None = None,
        attrs: dict[str, Any] | None = None,
        only_initial: bool = False,
    ) -> SafeString:
        rendered = widget or self.field.widget
        if isinstance(rendered, CaptchaLaWidget):
            request = _request_of(self.form)
            # An unbound form is the page's first render, what its developer sees first:
            # fail there, loudly. A bound one answers a user's POST, which must never be a
            # 500: its check has already been refused (see CaptchaLaField.clean).
            if request is None and not self.form.is_bound:
                raise RequestRequired(
                    f"{type(self.form).__qualname__} has a CaptchaLaField but no request "
                    f"to check it with: {NO_REQUEST_HELP}."
                )
            rendered.request = request
            field = self.field
            if isinstance(field, CaptchaLaField) and not field.shows_check(self.form, request):
                return SafeString("")
        return super().as_widget(widget, attrs, only_initial)


class CaptchaLaField(forms.Field):
    """Validates this submission's own pass token and records a checkpoint.

    No earlier pass counts: neither a passed checkpoint of the scope nor an
    earlier answer for the same token (a resubmitted token is a replay).

    The request is ``form.request`` (``AuthenticationForm``, so ``LoginView`` and the
    admin login, carries it; other forms get it from
    :class:`~captchala_django.forms.CaptchaLaFormMixin`), else the request being served,
    kept by :class:`~captchala_django.middleware.RequestContextMiddleware` or by
    django-allauth's ``AccountMiddleware``. With none, the form's first render raises
    :class:`~captchala_django.exceptions.RequestRequired` (an ``ImproperlyConfigured``)
    and a submission is refused (never accepted, no provider
    call; logged at ERROR). The outcome is
    kept: a second ``clean()`` makes no provider call, and
    ``form.captchala_outcome`` exposes it. When the check fails, the form's own
    ``clean()`` is skipped, so ``AuthenticationForm`` checks no password and the
    error never tells whether the username exists.
    """

    widget = CaptchaLaWidget
    default_error_messages = {
        "required": _("Please complete the check."),
        "invalid": _("The check was not passed. Please try again."),
        "unavailable": _("The check could not be completed right now. Please try again."),
        "rate_limited": _("Too many attempts; try again in a minute."),
    }

    def __init__(
        self,
        *,
        action: str | None = None,
        scope: ScopeArg = None,
        product: str | None = None,
        lang: str | None = None,
        theme: str | dict[str, Any] | None = None,
        max_risk: int | None = None,
        skip_for_staff: bool | None = None,
        step_up: stepup.StepUp | dict[str, Any] | bool | None = None,
        username_field: str = "username",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("label", "")
        kwargs["required"] = True
        kwargs.setdefault(
            "widget", CaptchaLaWidget(action=action, product=product, lang=lang, theme=theme)
        )
        super().__init__(**kwargs)
        self.action = action
        self.scope = scope
        self.max_risk = max_risk
        #: Whether CAPTCHALA_SKIP_FOR_STAFF may apply: None is "yes, but on a login form".
        self.skip_for_staff = skip_for_staff
        #: ``step_up``: the check only after failed attempts (:mod:`captchala_django.stepup`),
        #: resolved when used, so that a changed setting applies; the username is the
        #: posted ``username_field``.
        self.step_up = step_up
        self.username_field = username_field
        stepup.StepUp.validate(step_up)  # a wrong dict fails here, at import, not on a POST
        self.widget.action = action
        self._form: forms.BaseForm | None = None
        self._name: str | None = None

    def get_bound_field(self, form: forms.BaseForm, field_name: str) -> BoundField:
        self._form, self._name = form, field_name
        # A form's prefix names its token field: each form of a formset, or each of
        # several forms on one page, posts and verifies its own token.
        if isinstance(self.widget, CaptchaLaWidget):
            self.widget.token_name = form.add_prefix(app_settings.TOKEN_FIELD)
        return _CaptchaLaBoundField(form, self, field_name)

    def clean(self, value: Any) -> Any:
        form = self._form
        request = _request_of(form)
        if is_receipt(value):
            return self._receipt(form, request, value)
        policy = stepup.StepUp.of(self.step_up)
        if policy is not None and request is not None:
            # Counted before the form's clean() checks a password: parallel guesses are
            # bounded by the count, not by who reads it first.
            attempt = stepup.count_attempt(request, self._posted_username(form), policy)
            if form is not None:
                form.captchala_step_up = attempt  # type: ignore[attr-defined]
            if not attempt.needed:
                return ""  # below the threshold: no check, and a posted token stays unspent
        if value is MULTIPLE_TOKENS:
            self._failed(form)
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        if value in self.empty_values and not self._skips(form, request):
            self._failed(form)
            raise ValidationError(self.error_messages["required"], code="required")
        if request is None:
            # The site's mistake, not the user's: refused (a check that cannot run never
            # passes), said to the site in the log, and never a 500 on the user's POST.
            logger.error(
                "%s has a CaptchaLaField but no request to check it with, so its "
                "submission was refused: %s.",
                type(form).__qualname__ if form is not None else "A form",
                NO_REQUEST_HELP,
            )
            self._failed(form)
            raise ValidationError(self.error_messages["unavailable"], code="unavailable")
        outcome = self._verify(form, request, value)
        if form is not None:
            # Published on the form (documented); BaseForm declares no such field.
            form.captchala_outcome = outcome  # type: ignore[attr-defined]
        if outcome.allowed:
            return value
        self._failed(form)
        if outcome.rate_limited:
            raise ValidationError(self.error_messages["rate_limited"], code="rate_limited")
        if outcome.retry_later:
            raise ValidationError(self.error_messages["unavailable"], code="unavailable")
        raise ValidationError(self.error_messages["invalid"], code="invalid")

    def _posted_username(self, form: forms.BaseForm | None) -> str | None:
        if form is None:
            return None
        value = form.data.get(form.add_prefix(self.username_field))
        return value if isinstance(value, str) else None

    def shows_check(self, form: forms.BaseForm, request: HttpRequest | None) -> bool:
        """Whether the widget is shown: always, unless ``step_up`` is on and neither this
        submission's attempt nor this client's count asks for the check yet."""
        policy = stepup.StepUp.of(self.step_up)
        if policy is None or request is None:
            return True
        attempt: stepup.Attempt | None = getattr(form, "captchala_step_up", None)
        if attempt is not None:
            return attempt.needed or attempt.next_needed
        username = self._posted_username(form) if form.is_bound else None
        return stepup.check_needed(request, username, policy)

    def _receipt(self, form: forms.BaseForm | None, request: HttpRequest | None, value: str) -> str:
        """A step validated again from its stored data, by the check it passed (see
        :mod:`captchala_django.wizards`). Only a form built from a wizard's storage reads
        a receipt; anywhere else (a client that posts one) it is no token at all."""
        from .checkpoints import Outcome, receipts

        use = getattr(form, RECEIPT_USE_ATTRIBUTE, None)
        if use is None or request is None:
            accepted = False
        elif value == STAFF_RECEIPT:
            accepted = self._skips(form, request)
        else:
            accepted = receipts.accept(request, self.scope, value, use)
        if not accepted:
            self._failed(form)
            raise ValidationError(self.error_messages["required"], code="required")
        if form is not None:
            form.captchala_outcome = Outcome(allowed=True, code=Code.STEP_VERIFIED)  # type: ignore[attr-defined]
        return value

    def _verify(self, form: forms.BaseForm | None, request: HttpRequest, value: Any) -> Outcome:
        from .checkpoints import Outcome, verify_and_record
        from .models import FailureClass

        # Kept on the form, for this request and token: a field instance shared by several
        # forms (or requests) never answers one form's token for another.
        kept: dict[int, tuple[Any, Any, Outcome]] = (
            form.__dict__.setdefault("_captchala_verdicts", {}) if form is not None else {}
        )
        found = kept.get(id(self))
        if found is not None and found[0] is request and found[1] == value:
            return found[2]
        if getattr(request, _FORM_CHECK_FAILED, False):
            # A check of this request failed already: it is refused whatever the others
            # hold, and they are not checked (no provider call, no rows): a formset of
            # a thousand forms costs one failed check, as a DRF list does.
            code = Code.NOT_CHECKED
            return Outcome(allowed=False, failure_class=FailureClass.VALIDATION, code=code)
        # This submission's own token, every time: a pass covers one submission.
        outcome = verify_and_record(
            request,
            value,
            self.scope,
            self.action,
            reuse=False,
            max_risk=self.max_risk,
            staff_skip=self._staff_may_skip(form),
            door="form",
        )
        kept[id(self)] = (request, value, outcome)
        if not outcome.allowed:
            setattr(request, _FORM_CHECK_FAILED, True)
        return outcome

    def _staff_may_skip(self, form: forms.BaseForm | None) -> bool:
        """Whether ``CAPTCHALA_SKIP_FOR_STAFF`` may apply to this form. Never on a login
        form, unless the field says so: there the session's user is not the account being
        logged in to (a staff session would guess any account's password unchecked)."""
        if self.skip_for_staff is not None:
            return self.skip_for_staff
        return not any((c.__module__, c.__name__) in _LOGIN_FORMS for c in type(form).__mro__)

    def _skips(self, form: forms.BaseForm | None, request: HttpRequest | None) -> bool:
        from .checkpoints import skips_check

        return self._staff_may_skip(form) and skips_check(request)

    def _failed(self, form: forms.BaseForm | None) -> None:
        """A failed check voids the submission: the form's own ``clean()`` is skipped, and
        once every field is cleaned (whatever their order) the other fields' errors are
        dropped, so that the check's error is the only answer: a client without a solve
        never learns that a username or an address is taken, or that an account exists."""
        if form is None:
            return
        name = self._name

        def void() -> None:
            # In place of _post_clean, Django's last step of full_clean(): a ModelForm's
            # model validation is skipped too.
            errors = form.errors  # set by now: full_clean() made it before any field
            for field in [f for f in errors if f != name]:
                del errors[field]

        # Replaced on this one form instance, on purpose: mypy flags any method assignment.
        form.clean = lambda: form.cleaned_data  # type: ignore[method-assign]
        form.__dict__["_post_clean"] = void  # a private hook the type stubs do not declare
