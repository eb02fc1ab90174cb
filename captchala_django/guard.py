"""One guard for every checkpoint front door: the decorator, the mixin and DRF's permission.

The front doors are thin adapters: they say which methods are guarded, hand
over the request's body data, and turn the :class:`Verdict` into their own kind
of answer (a response, or a DRF exception).

The pass token is read by :func:`captchala_django.tokens.read_token`, the one
reader every front door uses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError

from .checkpoints import (
    RATE_LIMITED,
    Outcome,
    claim_shown,
    get_passed,
    skips_check,
    verify_and_record,
)
from .codes import Code
from .scopes import ScopeArg
from .tokens import read_token, request_tokens

logger = logging.getLogger("captchala_django.guard")

ALLOW = "allow"
CHALLENGE = "challenge"
UNAVAILABLE = "unavailable"
#: The client's budget of failed checks is spent: 429, try again in a minute.
LIMITED = "limited"


#: What is never guarded by default (DRF's safe methods). Every other method, TRACE and
#: made-up ones included, is guarded.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def guarded_methods(methods: Iterable[str] | None) -> frozenset[str] | None:
    """Upper-cased methods; guarding GET guards HEAD too (Django answers HEAD with GET's view).
    ``None`` (the default) guards every method but the safe ones."""
    if methods is None:
        return None
    upper = {m.upper() for m in methods}
    if "GET" in upper:
        upper.add("HEAD")
    return frozenset(upper)


def is_guarded(method: str | None, methods: frozenset[str] | None) -> bool:
    """Whether ``method`` is checked: one of ``methods`` (from :func:`guarded_methods`), or
    for ``None`` any method but the safe ones (as the decorator, the mixin and DRF's
    permission all default to)."""
    method = (method or "GET").upper()
    return method not in SAFE_METHODS if methods is None else method in methods


@dataclass(frozen=True)
class Options:
    """What a front door asks for."""

    scope: ScopeArg = None
    ttl: int | None = None
    #: The guarded methods; ``None``: every method but GET, HEAD and OPTIONS.
    methods: frozenset[str] | None = None
    action: str | None = None
    #: Deny a valid verdict whose risk score is above this (default: ``CAPTCHALA_MAX_RISK``).
    max_risk: int | None = None

    def guards(self, method: str | None) -> bool:
        return is_guarded(method, self.methods)


@dataclass(frozen=True)
class Verdict:
    kind: str
    outcome: Outcome | None = None
    conflict: bool = False


def evaluate(request: Any, options: Options, body: Callable[[], Any]) -> Verdict:
    """Decide a guarded request; ``request.captchala`` is set to the outcome (or ``None``).

    ``body()`` gives the parsed body.

    1. a passed, unexpired checkpoint of the scope lets it through (one query; a
       database error there falls through to the token); a token the request
       carries anyway is claimed for this scope, so that it is a replay anywhere else
       (within the client's budget: past it, limited);
    2. otherwise the request's own token is verified and recorded;
    3. no token (and no staff skip), several tokens, or a failed check: a
       challenge; no answer from the provider (or the database): unavailable;
       the client's budget of failed checks spent: limited.
    """
    request.captchala = None
    try:
        passed = get_passed(request, options.scope)
    except DatabaseError as exc:
        logger.warning("checkpoint lookup failed (%s); verifying the token", type(exc).__name__)
        passed = None
    if passed is not None:
        if not claim_shown(request, request_tokens(request, body()), options.scope):
            request.captchala = RATE_LIMITED
            return Verdict(LIMITED, request.captchala)
        request.captchala = Outcome(allowed=True, checkpoint=passed, code=Code.CHECKPOINT_PASSED)
        return Verdict(ALLOW, request.captchala)
    read = read_token(request, body())
    if read.conflict:
        return Verdict(CHALLENGE, conflict=True)
    if read.token is None and not skips_check(request):
        return Verdict(CHALLENGE)
    outcome = verify_and_record(
        request,
        read.token,
        options.scope,
        options.action,
        ttl=options.ttl,
        fast_path=False,
        max_risk=options.max_risk,
    )
    request.captchala = outcome
    if outcome.allowed:
        return Verdict(ALLOW, outcome)
    if outcome.rate_limited:
        return Verdict(LIMITED, outcome)
    if outcome.retry_later:
        return Verdict(UNAVAILABLE, outcome)
    return Verdict(CHALLENGE, outcome)
