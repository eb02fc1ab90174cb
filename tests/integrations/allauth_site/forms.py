"""allauth's own forms, each with a check: ``ACCOUNT_FORMS`` names them (settings.py)."""

from allauth.account import forms

from captchala_django.fields import CaptchaLaField


class LoginForm(forms.LoginForm):
    captcha = CaptchaLaField(action="login")


class SignupForm(forms.SignupForm):
    captcha = CaptchaLaField(action="register")


class ResetPasswordForm(forms.ResetPasswordForm):
    captcha = CaptchaLaField(action="lost_password")


class StepUpLoginForm(forms.LoginForm):
    """The check only after failed attempts; allauth names its username field ``login``."""

    captcha = CaptchaLaField(action="login", step_up=True, username_field="login")
