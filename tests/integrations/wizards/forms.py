"""A two-step sign-up wizard: the check on its first step (who), then the details."""

from django import forms

from captchala_django.fields import CaptchaLaField


class WhoForm(forms.Form):
    email = forms.EmailField()
    captcha = CaptchaLaField(action="register")


class DetailsForm(forms.Form):
    name = forms.CharField()


class LastStepCheckForm(forms.Form):
    """The check on the last step: verified when posted, then again at done()."""

    agree = forms.BooleanField()
    captcha = CaptchaLaField(action="register")
