"""Under attack: on a route (``*``: every route), every front door with ``step_up`` asks
for the check, for a while.

Switched on by hand in the admin, or, with ``CAPTCHALA_UNDER_ATTACK["auto"]``, by the
verdict the dashboard shows: when it says "likely an attack" over the last ``window``
seconds, on the route its rule names (else on every route), for at least ``floor``
seconds and at most ``ceiling`` for one episode, renewed while the verdict holds. The
verdict is judged at most once a minute across processes (a key in the budgets' cache),
by the request that finds it due or by ``manage.py captchala_watch``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from . import budgets
from .checkpoints import db_alias
from .conf import app_settings
from .insights.verdict import gather, judge
from .models import UnderAttack

logger = logging.getLogger("captchala_django.under_attack")

#: The route of an episode on every route.
SITE_WIDE = "*"
#: Seconds between two judgements of the verdict, across processes.
EVERY = 60
DEFAULTS = {"auto": False, "window": 900, "floor": 900, "ceiling": 21600}


def options() -> dict[str, int | bool]:
    return {**DEFAULTS, **(app_settings.UNDER_ATTACK or {})}


def active(route: str, now: datetime | None = None) -> UnderAttack | None:
    """The episode in force on ``route`` (or on every route), if any; judged first when due."""
    now = now or timezone.now()
    if options()["auto"] and budgets.due("under-attack", EVERY):
        evaluate(now)
    rows = UnderAttack.objects.using(db_alias()).filter(
        route__in=(route, SITE_WIDE), ends_at__gt=now
    )
    return rows.order_by("-ends_at").first()


def evaluate(now: datetime | None = None) -> UnderAttack | None:
    """Judge the verdict now; start or renew an episode when it says "likely an attack"."""
    now = now or timezone.now()
    opts = options()
    try:
        verdict = judge(gather(timedelta(seconds=int(opts["window"])), now=now))
        if verdict.kind != "attack":
            return None
        return _start_or_renew(verdict.route or SITE_WIDE, verdict.evidence, now, opts)
    except DatabaseError as exc:
        logger.warning("under attack: the verdict could not be judged: %s", exc)
        return None


def _start_or_renew(
    route: str, reason: str, now: datetime, opts: dict[str, int | bool]
) -> UnderAttack:
    floor, ceiling = timedelta(seconds=int(opts["floor"])), timedelta(seconds=int(opts["ceiling"]))
    rows = UnderAttack.objects.using(db_alias())
    for _ in range(2):  # a lost race to insert the route's row: the second pass renews it
        try:
            with transaction.atomic(using=db_alias()):
                row = rows.select_for_update().filter(route=route).first()
                if row is None:
                    row = rows.create(
                        route=route, started_at=now, ends_at=now + floor, reason=reason[:300]
                    )
                    logger.warning("under attack: %s, until %s: %s", route, row.ends_at, reason)
                elif row.ends_at <= now:  # a new episode
                    row.started_at, row.ends_at, row.by_hand = now, now + floor, False
                    row.reason = reason[:300]
                    row.save()
                    logger.warning("under attack: %s, until %s: %s", route, row.ends_at, reason)
                elif not row.by_hand:  # renewed, within the episode's ceiling
                    row.ends_at = min(row.started_at + ceiling, max(row.ends_at, now + floor))
                    row.save(update_fields=["ends_at"])
                return row
        except IntegrityError:
            continue
    raise IntegrityError("under attack: lost the race to insert twice")


def switch_on(route: str, seconds: int, reason: str = "by hand") -> UnderAttack:
    """Start an episode by hand (the admin): ``seconds`` from now, never shortened or
    renewed by the verdict."""
    now = timezone.now()
    row, _ = UnderAttack.objects.using(db_alias()).update_or_create(
        route=route,
        defaults={
            "started_at": now,
            "ends_at": now + timedelta(seconds=seconds),
            "by_hand": True,
            "reason": reason[:300],
        },
    )
    return row
