"""Every integration's views under one URLconf, each mounted as its own docs say."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("captchala/", include("captchala_django.urls")),
    path("", include("tests.integrations.allauth_site.urls")),
    path("wizards/", include("tests.integrations.wizards.urls")),
    path("forms/", include("tests.integrations.forms_stack.urls")),
    # Wagtail serves every other path: last.
    path("", include("tests.integrations.wagtail_site.urls")),
]
