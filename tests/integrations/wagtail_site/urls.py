"""Wagtail's page serving, as its docs mount it (last: it serves every other path)."""

from django.urls import include, path
from wagtail import urls as wagtail_urls

urlpatterns = [path("", include(wagtail_urls))]
