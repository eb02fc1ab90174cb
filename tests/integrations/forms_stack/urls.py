"""Pages that render forms with django-crispy-forms and with Django's Jinja2 renderer."""

from django.urls import path

from . import views

app_name = "forms_stack"
urlpatterns = [
    path("crispy/", views.crispy_tag, name="crispy-tag"),
    path("crispy-filter/", views.crispy_filter, name="crispy-filter"),
    path("jinja2/", views.jinja2_page, name="jinja2"),
    path("sent/", views.sent, name="sent"),
]
