"""django-allauth's own signup form with a check (imported only where allauth is installed)."""

from allauth.account.forms import SignupForm

from captchala_django.fields import CaptchaLaField


class CaptchaSignupForm(SignupForm):
    captcha = CaptchaLaField(action="register")
