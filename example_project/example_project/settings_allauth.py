"""The demo with django-allauth: its login, signup and password reset pages under
``/accounts/``, each form with a check (``demo/forms_allauth.py``).

``python manage.py runserver --settings example_project.settings_allauth`` (after
``migrate`` and ``demo_setup`` with the same ``--settings``): every page of the demo as
``settings.py`` serves it, plus allauth's. Installed as allauth's docs say; the form
classes are all the check needs.
"""

from .settings import *  # noqa: F403
from .settings import INSTALLED_APPS, MIDDLEWARE

INSTALLED_APPS = [*INSTALLED_APPS, "allauth", "allauth.account"]
# Before the demo's last middleware, which must see what the views raise.
_last = MIDDLEWARE.index("demo.middleware.DatabaseUnavailableMiddleware")
MIDDLEWARE = [
    *MIDDLEWARE[:_last],
    "allauth.account.middleware.AccountMiddleware",
    *MIDDLEWARE[_last:],
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_FORMS = {
    "login": "demo.forms_allauth.LoginForm",
    "signup": "demo.forms_allauth.SignupForm",
    "reset_password": "demo.forms_allauth.ResetPasswordForm",
}
ROOT_URLCONF = "example_project.urls_allauth"
