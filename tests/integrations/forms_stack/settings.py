"""django-crispy-forms with its Bootstrap 5 pack; Django's Jinja2 form renderer.

``tests.integrations.forms_stack`` is an app so that its ``templates/`` (the crispy
pages) and ``jinja2/`` (the Jinja2 page) directories are found as a site's would be.
"""

FORMS_STACK_APPS = ["crispy_forms", "crispy_bootstrap5", "tests.integrations.forms_stack"]
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"
