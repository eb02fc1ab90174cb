"""Parse ``30d``, ``12h``, ``45m``, ``90s`` (or a bare number of days)."""

import re
from datetime import timedelta

from django.core.management.base import CommandError

_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def duration(text: str) -> timedelta:
    match = re.fullmatch(r"\s*(\d+)\s*([dhms]?)\s*", text or "")
    if not match:
        raise CommandError(f"{text!r} is not a duration like 30d, 12h, 45m or 90s")
    return timedelta(**{_UNITS[match.group(2) or "d"]: int(match.group(1))})
