from django.contrib import admin
from django.urls import include, path

from tests import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("captchala-sandbox/", include("captchala_django.sandbox.urls")),
    path("atomic/verify/", views.verify_then_maybe_fail, name="atomic-verify"),
]
