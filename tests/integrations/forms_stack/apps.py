from django.apps import AppConfig


class FormsStackConfig(AppConfig):
    name = "tests.integrations.forms_stack"
    label = "forms_stack"
