"""django-allauth's stock URLs, as its docs mount them, its headless API with the check.

allauth's headless endpoints take no form of the site's (``ACCOUNT_FORMS`` is for its HTML
pages), so the three a bot goes for are allauth's own views behind ``checkpoint_required``,
mounted before allauth's URLs; the client sends the pass token in the ``X-CaptchaLa-Token``
header. ``ttl=0`` keeps no pass: each request needs a token of its own, as with a form's
field (one solve, one password guess, one sign-up, one reset mail).
"""

from allauth.headless.account import views as headless
from allauth.headless.constants import Client
from django.urls import include, path

from captchala_django.decorators import checkpoint_required

CHECKED = {
    "auth/login": (headless.LoginView, "login"),
    "auth/signup": (headless.SignupView, "register"),
    "auth/password/request": (headless.RequestPasswordResetView, "lost_password"),
}

urlpatterns = [
    *(
        path(
            f"_allauth/{client.value}/v1/{route}",
            checkpoint_required(view.as_api_view(client=client), action=action, ttl=0),
        )
        for client in Client
        for route, (view, action) in CHECKED.items()
    ),
    path("accounts/", include("allauth.urls")),
    path("_allauth/", include("allauth.headless.urls")),
]
