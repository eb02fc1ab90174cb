"""``manage.py captchala_report``: a thin wrapper over :mod:`captchala_django.insights.report`."""

import json

from django.core.management.base import BaseCommand, CommandError

from captchala_django.insights.queries import BREAKDOWNS
from captchala_django.insights.report import report

from ._durations import duration

#: The columns ``--by`` prints after its key.
COLUMNS = {"platform": ("count", "valid", "refused")}
DECISION_COLUMNS = ("count", "allow", "deny", "degrade", "failures")


class Command(BaseCommand):
    help = (
        "Count decisions by status, failure class, route and degraded over a window, "
        "break them down --by route, class, ip or platform, and end with a verdict."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since", type=duration, default="1d", help="window, e.g. 24h, 7d (default 1d)"
        )
        parser.add_argument("--by", choices=BREAKDOWNS, help="also count the window by this")
        parser.add_argument(
            "--limit", type=int, default=20, help="rows of --by (busiest first; 0: all)"
        )
        parser.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args, since, by, limit, **options):
        if limit < 0:
            raise CommandError("--limit must be 0 or more")
        data = report(since, by=by, limit=limit or None)
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2, default=str))
            return
        self.stdout.write(
            f"decisions since {data['since']}: {data['decisions']} (degraded: {data['degraded']}, "
            f"IP mismatches: {data['ip_mismatches']})"
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
        if by:
            self._breakdown(by, data["breakdown"])
        self.stdout.write(f"\nverdict: {data['verdict']['verdict']}: {data['verdict']['evidence']}")
        for episode in data["under_attack"]:
            how = "by hand" if episode["by_hand"] else "by the verdict"
            self.stdout.write(
                f"under attack: {episode['route']} until {episode['ends_at']:%Y-%m-%d %H:%M} "
                f"({how}): {episode['reason']}"
            )

    def _breakdown(self, by, rows):
        columns = COLUMNS.get(by, DECISION_COLUMNS)
        self.stdout.write(f"\nbreakdown by {by}:")
        self.stdout.write(f"  {by:<40}" + "".join(f" {c:>8}" for c in columns))
        for row in rows:
            key = row[by]
            label = "(no session or unknown)" if by == "ip" and key is None else str(key or "-")
            self.stdout.write(f"  {label:<40}" + "".join(f" {row[c]:>8}" for c in columns))
        if by == "platform":
            self.stdout.write("  (provider replies: only a valid reply names its platform)")
