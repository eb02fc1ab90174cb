"""``path("captchala/", include("captchala_django.urls"))``: the server-token refresh endpoint."""

from django.urls import path

from . import views

app_name = "captchala"

urlpatterns = [
    path("server-token/", views.server_token, name="server-token"),
]
