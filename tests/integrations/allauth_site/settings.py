"""django-allauth, as its docs install it."""

ALLAUTH_APPS = ["allauth", "allauth.account", "allauth.headless"]
ALLAUTH_MIDDLEWARE = ["allauth.account.middleware.AccountMiddleware"]
