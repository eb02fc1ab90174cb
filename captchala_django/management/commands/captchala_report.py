"""``manage.py captchala_report``: a thin wrapper over :mod:`captchala_django.report`."""

import json

from django.core.management.base import BaseCommand

from captchala_django.report import report

from ._durations import duration


class Command(BaseCommand):
    help = "Count decisions by status, failure class, route and degraded over a window."

    def add_arguments(self, parser):
        parser.add_argument("--since", type=duration, default="1d", help="window, e.g. 24h, 7d")
        parser.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args, since, **options):
        data = report(since)
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2, default=str))
            return
        self.stdout.write(
            f"decisions since {data['since']}: {data['decisions']} (degraded: {data['degraded']})"
        )
        for title, key, columns in (
            ("by decision", "by_decision", ("decision",)),
            ("by failure class", "by_failure_class", ("failure_class",)),
            ("by route", "by_route", ("route", "decision")),
            ("checkpoints by status", "checkpoints_by_status", ("status",)),
        ):
            self.stdout.write(f"\n{title}:")
            for row in data[key]:
                label = " / ".join(str(row[c]) or "-" for c in columns)
                self.stdout.write(f"  {label:<40} {row['count']:>8}")
