"""The URLconf of the django-allauth test: allauth's stock views, as its docs mount them."""

from django.urls import include, path

urlpatterns = [
    path("accounts/", include("allauth.urls")),
    path("captchala/", include("captchala_django.urls")),
]
