"""Every integration's views under one URLconf, each mounted as its own docs say."""

from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.urls import include, path

from tests.integrations.axes_site.forms import LoginForm as AxesLoginForm

urlpatterns = [
    path("admin/", admin.site.urls),
    path("captchala/", include("captchala_django.urls")),
    path("", include("tests.integrations.allauth_site.urls")),
    path("wizards/", include("tests.integrations.wizards.urls")),
    path("forms/", include("tests.integrations.forms_stack.urls")),
    path("axes/login/", LoginView.as_view(form_class=AxesLoginForm), name="axes-login"),
    # Wagtail serves every other path: last.
    path("", include("tests.integrations.wagtail_site.urls")),
]
