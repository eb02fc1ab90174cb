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
from dataclasses import dataclass

from django.db import DatabaseError, connections
from django.http import HttpRequest
from django.utils.crypto import salted_hmac

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
    step; ``consume`` redeems it (the final validation), else it is only looked at."""

    purpose: str
    consume: bool


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


def hold(request: HttpRequest, scope: ScopeArg, digest: str, purpose: str) -> bool:
    """Keep the passed ledger row of ``digest`` for ``purpose``; False when there is none
    to keep (no row, not passed, another scope's, already held) or the database failed.
    A degraded pass is never kept: fail-open and degraded answers are not remembered."""
    key = resolve_scope(request, scope).key
    return _update(
        digest,
        "held_for = %s WHERE token_digest = %s AND scope_key = %s AND state = %s "
        "AND allowed AND NOT degraded AND held_for = ''",
        [purpose, digest, key, ClaimState.DONE],
    )


def accept(request: HttpRequest, scope: ScopeArg, value: str, use: Use) -> bool:
    """Whether the receipt ``value`` stands for a check this step passed: looked up, or
    redeemed (once) when ``use.consume``."""
    digest = _digest_of(value)
    if digest is None:
        return False
    key = resolve_scope(request, scope).key
    where = (
        "token_digest = %s AND held_for = %s AND scope_key = %s AND state = %s "
        "AND allowed AND NOT degraded"
    )
    params = [digest, use.purpose, key, ClaimState.DONE]
    if use.consume:
        return _update(digest, f"held_for = %s WHERE {where}", [REDEEMED, *params])
    db = db_alias()
    try:
        with connections[db].cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {PassToken._meta.db_table} WHERE {where}", params)
            return cursor.fetchone() is not None
    except DatabaseError as exc:
        logger.warning("could not read a receipt: %s", type(exc).__name__)
        return False


def _update(digest: str, assignment: str, params: list[str]) -> bool:
    db = db_alias()
    try:
        with connections[db].cursor() as cursor:
            cursor.execute(f"UPDATE {PassToken._meta.db_table} SET {assignment}", params)
            return bool(cursor.rowcount == 1)
    except DatabaseError as exc:
        # The step is asked again (a new solve), never passed without its row.
        logger.warning("could not update the receipt of %s…: %s", digest[:12], type(exc).__name__)
        return False
