"""django-allauth, as its docs install it, with the three forms that take the check."""

ALLAUTH_APPS = ["allauth", "allauth.account", "allauth.headless"]
ALLAUTH_MIDDLEWARE = ["allauth.account.middleware.AccountMiddleware"]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_FORMS = {
    "login": "tests.integrations.allauth_site.forms.LoginForm",
    "signup": "tests.integrations.allauth_site.forms.SignupForm",
    "reset_password": "tests.integrations.allauth_site.forms.ResetPasswordForm",
}
