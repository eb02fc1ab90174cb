"""Database set-up shared by the benchmarks."""

from django.core.management import call_command
from django.db import connection


def prepare() -> None:
    """Migrate the benchmark database and empty the checkpoint tables."""
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        for table in (
            "captchala_django_checkpointevent",
            "captchala_django_checkpoint",
            "captchala_django_passtoken",
        ):
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
