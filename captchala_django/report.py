"""Kept for compatibility: the report is :mod:`captchala_django.insights.report` now,
its queries :mod:`captchala_django.insights.queries`. New code imports from there
(their constants are read there, too: setting one here changes nothing)."""

from .insights.queries import (
    BREAKDOWNS,
    DECISIONS,
    MAX_SHARED_ROUTES,
    client_address,
    decisions,
    failures,
    platforms,
    shared_scope_keys,
    split,
)
from .insights.report import breakdown, report

__all__ = [
    "BREAKDOWNS",
    "DECISIONS",
    "MAX_SHARED_ROUTES",
    "breakdown",
    "client_address",
    "decisions",
    "failures",
    "platforms",
    "report",
    "shared_scope_keys",
    "split",
]
