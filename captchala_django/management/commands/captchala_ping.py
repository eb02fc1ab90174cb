"""``manage.py captchala_ping``: check the configured keys with one server-token issue."""

from django.core.management.base import BaseCommand, CommandError

from captchala_django.client import get_client
from captchala_django.exceptions import (
    CaptchaLaError,
    ConfigurationError,
    ProviderUnavailable,
)


class Command(BaseCommand):
    help = "Check the configured CaptchaLa keys with one server-token issue (ttl 60, 1 use)."

    def handle(self, *args, **options):
        try:
            client = get_client()
            client.issue_server_token("login", ttl=60, max_uses=1)
        except ConfigurationError as exc:
            raise CommandError(f"CaptchaLa refused the keys: {exc}") from exc
        except ProviderUnavailable as exc:
            raise CommandError(f"CaptchaLa could not be reached: {exc}") from exc
        except CaptchaLaError as exc:
            raise CommandError(f"CaptchaLa answered with an error: {exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"OK: CaptchaLa at {client.api_url} accepted app key {client.app_key!r}"
            )
        )
