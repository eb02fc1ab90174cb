"""``manage.py captchala_cleanup``: a thin wrapper over :func:`captchala_django.cleanup.cleanup`."""

from django.core.management.base import BaseCommand, CommandError

from captchala_django.cleanup import cleanup

from ._durations import duration


class Command(BaseCommand):
    help = "Delete expired checkpoints, old events and expired ledger rows, in batches."

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size", type=int, default=1000, help="rows per DELETE (one transaction each)"
        )
        parser.add_argument(
            "--older-than",
            type=duration,
            default=None,
            help="age of records (and of never-passed checkpoints) to delete "
            '(default: CAPTCHALA_RETENTION["records"], 30d)',
        )
        parser.add_argument("--dry-run", action="store_true", help="only count")

    def handle(self, *args, batch_size, older_than, dry_run, verbosity, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")

        def progress(result):
            # Every batch with -v 2; every tenth batch by default; nothing with -v 0.
            if verbosity > 1 or (verbosity == 1 and result.batches % 10 == 0):
                self.stdout.write(
                    f"batch {result.batches}: {result.checkpoints} checkpoints, "
                    f"{result.events} events, {result.tokens} tokens"
                )

        result = cleanup(
            batch_size=batch_size, older_than=older_than, dry_run=dry_run, progress=progress
        )
        verb = "would delete" if dry_run else "deleted"
        self.stdout.write(
            f"{verb} {result.checkpoints} checkpoints, {result.events} events, "
            f"{result.tokens} ledger rows, {result.attempt_counts} attempt counts in "
            f"{result.batches} batches "
            f"(longest statement {result.longest_statement * 1000:.0f} ms)"
        )
