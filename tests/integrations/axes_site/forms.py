from django.contrib.auth.forms import AuthenticationForm

from captchala_django.contrib.axes import step_up
from captchala_django.fields import CaptchaLaField


class LoginForm(AuthenticationForm):
    captcha = CaptchaLaField(action="login", step_up=step_up())
