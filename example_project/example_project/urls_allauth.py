"""The demo's URLs, and django-allauth's under ``/accounts/`` (``settings_allauth``)."""

from django.urls import include, path

from .urls import urlpatterns as demo_urlpatterns

urlpatterns = [path("accounts/", include("allauth.urls")), *demo_urlpatterns]
