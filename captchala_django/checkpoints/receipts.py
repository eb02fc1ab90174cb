"""Receipts: a passed check kept for one later use by the same form step.

A form that is validated twice on purpose (a django-formtools wizard validates every
step once when it is posted, then again at the end) must not meet its own token as a
replay the second time, and must not let that second validation be had twice. When
the step passes, its ledger row is *held* for that step (``PassToken.held_for``, an HMAC
of the wizard and the step) and the stored step data carries a receipt naming the
token's digest instead of the token. The second validation *redeems* the receipt: one
atomic UPDATE that succeeds once, for the same scope, on a row that passed. A replayed
or copied step (an old wizard cookie) finds its receipt redeemed; a receipt posted by
a client is never read as one (see :mod:`captchala_django.wizards`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import DatabaseError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac

from ..conf import app_settings
from ..models import ClaimState, PassToken
from ..scopes import ScopeArg, resolve_scope
from ..tokens import RECEIPT_PREFIX
from .attempt import db_alias

logger = logging.getLogger("captchala_django.receipts")

#: ``held_for`` once a receipt was used.
REDEEMED = "redeemed"
_DIGEST = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Use:
    """How a form built from stored step data may use a receipt: ``purpose`` names the
    step; with ``redeemed`` (the final validation's set) it is redeemed, else only looked
    at. ``redeemed`` holds what this request redeemed already: the wizard's own further
    builds of the step (``get_all_cleaned_data()``, ``get_cleaned_data_for_step()`` in
    ``get_form_kwargs``/``get_form_initial``/``done``) accept it again."""

    purpose: str
    redeemed: set[tuple[str, str, str]] | None = field(default=None, compare=False, hash=False)

    @property
    def consume(self) -> bool:
        return self.redeemed is not None


def purpose(*parts: str) -> str:
    """The ``held_for`` value of a step, from names that identify it (wizard, step)."""
    return salted_hmac(
        "captchala_django.receipt", "\x00".join(parts), algorithm="sha256"
    ).hexdigest()


def receipt(digest: str) -> str:
    return RECEIPT_PREFIX + digest


def _digest_of(value: str) -> str | None:
    digest = value[len(RECEIPT_PREFIX) :]
    return digest if _DIGEST.fullmatch(digest) else None


def _held(request: HttpRequest, scope: ScopeArg, digest: str) -> QuerySet[PassToken]:
    """The ledger row of ``digest`` when it is a pass of this scope that may stand for a
    step: verified (not degraded: fail-open and degraded answers are not remembered) and
    no older than ``CAPTCHALA_CHECKPOINT_TTL``, as long as a pass is trusted anywhere, so
    that nobody can bank solved steps and finish them all later."""
    since = timezone.now() - timedelta(seconds=app_settings.CHECKPOINT_TTL)
    return PassToken.objects.using(db_alias()).filter(
        token_digest=digest,
        scope_key=resolve_scope(request, scope).key,
        state=ClaimState.DONE,
        allowed=True,
        degraded=False,
        created_at__gte=since,
    )


def hold(request: HttpRequest, scope: ScopeArg, digest: str, purpose: str) -> bool:
    """Keep the passed ledger row of ``digest`` for ``purpose``; False when there is none
    to keep (no row, not a pass that may stand, another scope's, already held) or the
    database failed."""
    try:
        return _held(request, scope, digest).filter(held_for="").update(held_for=purpose) == 1
    except DatabaseError as exc:
        # The step is asked again at the end (a new solve), never passed without its row.
        logger.warning("could not hold the pass of %s…: %s", digest[:12], type(exc).__name__)
        return False


def accept(request: HttpRequest, scope: ScopeArg, value: str, use: Use) -> bool:
    """Whether the receipt ``value`` stands for a check this step passed: looked up, or
    redeemed when ``use.consume`` (once: one atomic UPDATE; the same request may build
    the step again, as formtools does in ``done()``)."""
    digest = _digest_of(value)
    if digest is None:
        return False
    mine = (use.purpose, digest, resolve_scope(request, scope).key)
    if use.redeemed is not None and mine in use.redeemed:
        return True
    try:
        held = _held(request, scope, digest).filter(held_for=use.purpose)
        if not use.consume:
            return held.exists()
        done = held.update(held_for=REDEEMED) == 1
    except DatabaseError as exc:
        logger.warning("could not read the receipt of %s…: %s", digest[:12], type(exc).__name__)
        return False
    if done and use.redeemed is not None:  # consumed: redeemed is the request's set
        use.redeemed.add(mine)
    return done
