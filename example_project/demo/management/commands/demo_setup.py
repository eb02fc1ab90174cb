"""Create the demo admin once (idempotent) and print how to log in."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

USERNAME = "admin"
PASSWORD = "admin"


class Command(BaseCommand):
    help = "Create the demo admin user if it does not exist."

    def handle(self, *args, **options):
        users = get_user_model()
        if not users.objects.filter(username=USERNAME).exists():
            users.objects.create_superuser(USERNAME, "admin@example.com", PASSWORD)
            self.stdout.write("Created the demo admin.")
        self.stdout.write(
            self.style.SUCCESS(f"Demo admin: username {USERNAME!r}, password {PASSWORD!r}")
        )
