"""django-allauth's own forms, each with a check; ``ACCOUNT_FORMS`` names them
(``example_project/settings_allauth.py``). allauth's views and templates are its own."""

from allauth.account import forms

from captchala_django.fields import CaptchaLaField


class LoginForm(forms.LoginForm):
    captcha = CaptchaLaField(action="login")


class SignupForm(forms.SignupForm):
    captcha = CaptchaLaField(action="register")


class ResetPasswordForm(forms.ResetPasswordForm):
    captcha = CaptchaLaField(action="lost_password")
