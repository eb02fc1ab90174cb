"""The test project's URLs, and the hand-written guard the decorator is measured against."""

from __future__ import annotations

from django.urls import path

from bench.least_guard import least_guarded_typical_page
from tests.urls import urlpatterns as test_urlpatterns

urlpatterns = [
    *test_urlpatterns,
    path("least-guarded-typical-page/", least_guarded_typical_page),
]
