"""Include under any prefix: ``path("captchala-sandbox/", include(...))``."""

from django.urls import path

from .views import sandbox_view

app_name = "captchala_sandbox"

urlpatterns = [
    path("", sandbox_view, name="root"),
    path("<path:subpath>", sandbox_view, name="endpoint"),
]
