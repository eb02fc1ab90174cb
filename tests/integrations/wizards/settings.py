"""django-formtools."""

WIZARD_APPS = ["formtools"]
