"""Kept for compatibility: the verdict is :mod:`captchala_django.insights.verdict` now.
New code imports from there (its constants are read there, too: setting one here
changes nothing)."""

from .insights.verdict import (
    ACTION_MISMATCH,
    ATTACK_CLASSES,
    BASELINE_DAYS,
    CONCENTRATION,
    INTEGRATION_CLASSES,
    INTEGRATION_SHARE,
    LABELS,
    MIN_FAILURES,
    MISMATCH_ADDRESSES,
    ROUTE_SHARE,
    SURGE,
    TOP_ADDRESSES,
    Evidence,
    Verdict,
    gather,
    judge,
)

__all__ = [
    "ACTION_MISMATCH",
    "ATTACK_CLASSES",
    "BASELINE_DAYS",
    "CONCENTRATION",
    "INTEGRATION_CLASSES",
    "INTEGRATION_SHARE",
    "LABELS",
    "MIN_FAILURES",
    "MISMATCH_ADDRESSES",
    "ROUTE_SHARE",
    "SURGE",
    "TOP_ADDRESSES",
    "Evidence",
    "Verdict",
    "gather",
    "judge",
]
