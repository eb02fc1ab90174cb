from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from demo import views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
]

if settings.CAPTCHALA_SANDBOX:
    urlpatterns.append(path("captchala-sandbox/", include("captchala_django.sandbox.urls")))
