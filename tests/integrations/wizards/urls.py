"""django-formtools wizards with a check on one step."""

from django.urls import path

from . import views

urlpatterns = [
    path("session/", views.SignupWizard.as_view(), name="wizard-session"),
    path("cookie/", views.CookieSignupWizard.as_view(), name="wizard-cookie"),
    path("last-step/", views.LastStepWizard.as_view(), name="wizard-last-step"),
    path("plain/", views.PlainWizard.as_view(), name="wizard-plain"),
]
