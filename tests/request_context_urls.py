"""The URLconf of tests/test_request_context.py (``ROOT_URLCONF`` there)."""

from django.urls import include, path

from tests import request_context_views as views

urlpatterns = [
    path("captchala/", include("captchala_django.urls")),
    path("comment/", views.comment),
    path("async-comment/", views.async_comment),
    path("sees-itself/", views.sees_itself),
    path("async-sees-itself/", views.async_sees_itself),
    path("fails/", views.fails),
]
