from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, UserCreationForm

from captchala_django.fields import CaptchaLaField
from captchala_django.forms import CaptchaLaFormMixin


class LoginForm(AuthenticationForm):
    captcha = CaptchaLaField(action="login")


class SignupForm(CaptchaLaFormMixin, UserCreationForm):
    captcha = CaptchaLaField(action="register")


class ResetForm(CaptchaLaFormMixin, PasswordResetForm):
    captcha = CaptchaLaField(action="lost_password")


class AdminLoginForm(AdminAuthenticationForm):
    captcha = CaptchaLaField(action="login")


class ContactForm(CaptchaLaFormMixin, forms.Form):
    message = forms.CharField()
    captcha = CaptchaLaField(action="contact_form")

    def clean(self):
        self.clean_ran = True
        return super().clean()


class StepUpLoginForm(AuthenticationForm):
    """The check only after failed attempts (CAPTCHALA_STEP_UP)."""

    captcha = CaptchaLaField(action="login", step_up=True)
