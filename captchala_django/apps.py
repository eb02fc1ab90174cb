"""The app config: registers the system checks when Django starts."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CaptchaLaConfig(AppConfig):
    name = "captchala_django"
    label = "captchala_django"
    verbose_name = _("CaptchaLa checkpoints")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .checks import register_checks

        register_checks()
