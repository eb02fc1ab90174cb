"""``manage.py captchala_watch``: judge the verdict now and start or renew an "under attack"
episode when it says "likely an attack" (what a request does once a minute with
``CAPTCHALA_UNDER_ATTACK["auto"]``; run it from cron to judge without traffic)."""

from django.core.management.base import BaseCommand

from captchala_django.under_attack import evaluate


class Command(BaseCommand):
    help = 'Judge the verdict and switch "under attack" on or renew it when it says so.'

    def handle(self, *args, **options):
        episode = evaluate()
        if episode is None:
            self.stdout.write("not under attack")
        else:
            self.stdout.write(
                f"under attack: {episode.route} until {episode.ends_at:%Y-%m-%d %H:%M}"
            )
