"""django-formtools wizards with a check on one step."""

urlpatterns: list = []
