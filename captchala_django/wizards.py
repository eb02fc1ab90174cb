"""``CaptchaLaWizardMixin``: a check on any step of a django-formtools wizard.

A wizard validates each step when it is posted, stores the step's data, and validates
every stored step again before ``done()``. With a plain ``CaptchaLaField`` the second
validation meets the step's own token as a replay, and the wizard never finishes. The
mixin keeps the check to one verification per solve:

- the step is verified once, live, when it is posted (its token, never a stored one);
- the stored data carries a receipt instead of the token, and the step's ledger row is
  held for this wizard's step (:mod:`captchala_django.checkpoints.receipts`);
- forms built from the storage accept that receipt: looked at while the wizard runs
  (going back to the step, ``get_cleaned_data_for_step``), redeemed once at the final
  validation. A replayed or copied step (an old wizard cookie) finds its receipt
  redeemed, and a receipt posted by a client is no token at all: the step is asked again.

Works with ``SessionWizardView``, ``CookieWizardView`` and ``NamedUrl*`` views; formtools
is not imported here. A step whose receipt cannot be kept (the database was away when it
was posted) is asked again at the end, never passed without its check.
"""

from __future__ import annotations

from typing import Any

from django import forms

from .conf import app_settings
from .fields import CaptchaLaField
from .tokens import RECEIPT_USE_ATTRIBUTE, STAFF_RECEIPT


class CaptchaLaWizardMixin:
    """``class SignupWizard(CaptchaLaWizardMixin, SessionWizardView)``: any step whose form
    has a ``CaptchaLaField`` is checked once, and the wizard finishes."""

    # Set by formtools' WizardView, which this mixin is combined with.
    request: Any
    prefix: str
    steps: Any
    #: The receipts redeemed by this request's final validation (``render_done``), while
    #: it runs; ``None`` otherwise (receipts are then only looked at).
    _captchala_redeemed: set[tuple[str, str, str]] | None = None

    def get_form(self, step: str | None = None, data: Any = None, files: Any = None) -> Any:
        form = super().get_form(step, data, files)  # type: ignore[misc]
        # Only data from the wizard's storage is the wizard's own: the POST of a step is
        # the client's, and a receipt in it is refused like any made-up token.
        stored = data is not None and data is not self.request.POST
        if stored:
            from .checkpoints.receipts import Use

            purpose = self._captchala_purpose(step or self.steps.current)
        for one in self._captchala_forms(form):
            if getattr(one, "request", None) is None:
                one.request = self.request  # the field's check needs it; formtools passes none
            if stored:
                use = Use(self._captchala_sub(purpose, form, one), self._captchala_redeemed)
                setattr(one, RECEIPT_USE_ATTRIBUTE, use)
        return form

    @staticmethod
    def _captchala_forms(form: Any) -> list[Any]:
        """The forms of a step: the form itself, or each form of a formset."""
        if hasattr(form, "fields"):
            return [form]
        return list(getattr(form, "forms", []))

    @staticmethod
    def _captchala_sub(purpose: str, form: Any, one: Any) -> str:
        """A formset's forms are held apart: the step's purpose and the form's prefix."""
        if one is form:
            return purpose
        from .checkpoints.receipts import purpose as of

        return of(purpose, str(one.prefix))

    def process_step(self, form: forms.BaseForm) -> Any:
        """What the wizard stores for a posted step: its data, each checked field's token
        replaced by the receipt of its pass."""
        data = super().process_step(form)  # type: ignore[misc]
        step = self._captchala_purpose(self.steps.current)
        checked = [
            (one, name, field)
            for one in self._captchala_forms(form)
            for name, field in one.fields.items()
            if isinstance(field, CaptchaLaField)
        ]
        if not checked:
            return data
        data = data.copy()
        for one, name, field in checked:
            purpose = self._captchala_sub(step, form, one)
            data[one.add_prefix(app_settings.TOKEN_FIELD)] = self._receipt_of(
                one, name, field, purpose
            )
        return data

    def render_done(self, form: forms.BaseForm, **kwargs: Any) -> Any:
        # The final validation of every stored step: each receipt is redeemed, once.
        self._captchala_redeemed = set()
        try:
            return super().render_done(form, **kwargs)  # type: ignore[misc]
        finally:
            self._captchala_redeemed = None

    def _captchala_purpose(self, step: str) -> str:
        from .checkpoints.receipts import purpose

        return purpose(type(self).__module__, type(self).__qualname__, self.prefix, str(step))

    def _receipt_of(
        self, form: forms.BaseForm, name: str, field: CaptchaLaField, purpose: str
    ) -> str:
        """The receipt of the check this step just passed, or ``""`` (asked again at the
        end) when its pass cannot be held."""
        from .checkpoints import token_digest
        from .checkpoints.receipts import hold, receipt
        from .codes import Code

        outcome = getattr(form, "captchala_outcome", None)
        # The token as posted (the form's clean() may leave the field out of cleaned_data).
        token = form[name].data
        if outcome is None or not outcome.allowed or not isinstance(token, str):
            return ""
        if outcome.code == Code.STAFF_SKIP:
            return STAFF_RECEIPT
        digest = token_digest(token)
        return receipt(digest) if hold(self.request, field.scope, digest, purpose) else ""
