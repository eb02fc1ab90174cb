from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, UserCreationForm

from captchala_django.fields import CaptchaLaField
from captchala_django.forms import CaptchaLaFormMixin


class LoginForm(AuthenticationForm):
    """LoginView passes the request: adding the field is all it takes. ``step_up=True``
    asks for the check only after failed attempts (CAPTCHALA_STEP_UP: 3 per username,
    10 per address, in 15 minutes); DEMO_STEP_UP=0 asks on every login."""

    captcha = CaptchaLaField(action="login", step_up=settings.DEMO_STEP_UP)


class SignupForm(CaptchaLaFormMixin, UserCreationForm):
    captcha = CaptchaLaField(action="register")


class ResetForm(CaptchaLaFormMixin, PasswordResetForm):
    captcha = CaptchaLaField(action="lost_password")


class TransferForm(forms.Form):
    to = forms.CharField(label="To account", max_length=34, initial="DE89 3704 0044 0532 0130 00")
    amount = forms.DecimalField(min_value=1, max_digits=9, decimal_places=2, initial=100)


class CommentForm(CaptchaLaFormMixin, forms.Form):
    text = forms.CharField(label="Comment", max_length=200)
    captcha = CaptchaLaField(action="comment")
