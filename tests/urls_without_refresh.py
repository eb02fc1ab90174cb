"""A URLconf without captchala_django.urls (system check W010)."""

from django.urls import path

from tests import views

urlpatterns = [path("transfer/", views.transfer, name="transfer")]
