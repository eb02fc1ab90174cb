"""Pages that render forms with django-crispy-forms and with Django's Jinja2 renderer."""

urlpatterns: list = []
