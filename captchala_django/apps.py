"""The app config: registers the system checks when Django starts."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CaptchaLaConfig(AppConfig):
    name = "captchala_django"
    label = "captchala_django"
    verbose_name = _("CaptchaLa checkpoints")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth import signals

        from . import stepup
        from .checks import register_checks

        register_checks()
        # Failed logins through any door count for the step-up; a login gives its attempt back.
        signals.user_login_failed.connect(stepup.on_login_failed, dispatch_uid="captchala_stepup")
        signals.user_logged_in.connect(stepup.on_logged_in, dispatch_uid="captchala_stepup")
