"""django-crispy-forms with its Bootstrap 5 pack; Django's Jinja2 form renderer."""

FORMS_STACK_APPS = ["crispy_forms", "crispy_bootstrap5"]
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"
