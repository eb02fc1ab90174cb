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
    _captchala_final = False

    def get_form(self, step: str | None = None, data: Any = None, files: Any = None) -> Any:
        form = super().get_form(step, data, files)  # type: ignore[misc]
        if getattr(form, "request", None) is None:
            form.request = self.request  # the field's check needs it; formtools passes none
        # Only data from the wizard's storage is the wizard's own: the POST of a step is
        # the client's, and a receipt in it is refused like any made-up token.
        if data is not None and data is not self.request.POST:
            from .checkpoints.receipts import Use

            use = Use(self._captchala_purpose(step or self.steps.current), self._captchala_final)
            setattr(form, RECEIPT_USE_ATTRIBUTE, use)
        return form

    def process_step(self, form: forms.BaseForm) -> Any:
        """What the wizard stores for a posted step: its data, each checked field's token
        replaced by the receipt of its pass."""
        data = super().process_step(form)  # type: ignore[misc]
        fields = [(n, f) for n, f in form.fields.items() if isinstance(f, CaptchaLaField)]
        if not fields:
            return data
        data = data.copy()
        for name, field in fields:
            data[form.add_prefix(app_settings.TOKEN_FIELD)] = self._receipt_of(form, name, field)
        return data

    def render_done(self, form: forms.BaseForm, **kwargs: Any) -> Any:
        # The final validation of every stored step: each receipt is redeemed, once.
        self._captchala_final = True
        try:
            return super().render_done(form, **kwargs)  # type: ignore[misc]
        finally:
            self._captchala_final = False

    def _captchala_purpose(self, step: str) -> str:
        from .checkpoints.receipts import purpose

        return purpose(type(self).__module__, type(self).__qualname__, self.prefix, str(step))

    def _receipt_of(self, form: forms.BaseForm, name: str, field: CaptchaLaField) -> str:
        """The receipt of the check this step just passed, or ``""`` (asked again at the
        end) when its pass cannot be held."""
        from .checkpoints import token_digest
        from .checkpoints.receipts import hold, receipt
        from .codes import Code

        outcome = getattr(form, "captchala_outcome", None)
        token = form.cleaned_data.get(name)
        if outcome is None or not outcome.allowed or not isinstance(token, str):
            return ""
        if outcome.code == Code.STAFF_SKIP:
            return STAFF_RECEIPT
        if outcome.code == Code.STEP_VERIFIED:
            return token  # a receipt already (a stored step posted again by the wizard)
        digest = token_digest(token)
        step = self._captchala_purpose(self.steps.current)
        return receipt(digest) if hold(self.request, field.scope, digest, step) else ""
