"""One guard for every checkpoint front door: the decorator, the mixin and DRF's permission.

The front doors are thin adapters: they say which methods are guarded, hand
over the request's body data, and turn the :class:`Ruling` into their own kind
of answer (a response, or a DRF exception). Every front door's 503 tells the client
to come back after :data:`RETRY_AFTER` seconds.

The pass token is read by :func:`captchala_django.tokens.read_token`, the one
reader every front door uses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError

from . import observe
from .checkpoints import (
    RATE_LIMITED,
    Outcome,
    claim_shown,
    get_passed,
    skips_check,
    verify_and_record,
)
from .codes import Code
from .models import FailureClass
from .scopes import ScopeArg
from .tokens import read_token, request_tokens

logger = logging.getLogger("captchala_django.guard")

ALLOW = "allow"
CHALLENGE = "challenge"
UNAVAILABLE = "unavailable"
#: The client's budget of failed checks is spent: 429, try again in a minute.
LIMITED = "limited"

#: Seconds to wait (``Retry-After``) when the check could not be completed (503): the
#: decorator, the mixin, DRF's field and permission, and the server-token endpoint.
RETRY_AFTER = 30


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
    #: The front door's name in the metrics.
    door: str = "decorator"

    def guards(self, method: str | None) -> bool:
        return is_guarded(method, self.methods)


@dataclass(frozen=True)
class Ruling:
    """The guard's decision on one request (not :class:`captchala_django.verdict.Verdict`,
    the dashboard's judgement of a site's checks).

    ``kind`` is :data:`ALLOW`, :data:`CHALLENGE`, :data:`UNAVAILABLE` or :data:`LIMITED`;
    ``outcome`` the check's (``None`` when no token was checked); ``conflict`` that the
    request carried several tokens.
    """

    kind: str
    outcome: Outcome | None = None
    conflict: bool = False


def evaluate(request: Any, options: Options, body: Callable[[], Any]) -> Ruling:
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
            return _counted(request, options, Ruling(LIMITED, request.captchala))
        request.captchala = Outcome(allowed=True, checkpoint=passed, code=Code.CHECKPOINT_PASSED)
        return _counted(request, options, Ruling(ALLOW, request.captchala))
    read = read_token(request, body())
    if read.conflict:
        return _counted(request, options, Ruling(CHALLENGE, conflict=True), Code.SEVERAL_TOKENS)
    if read.token is None and not skips_check(request):
        return _counted(request, options, Ruling(CHALLENGE), Code.MISSING_TOKEN)
    outcome = verify_and_record(
        request,
        read.token,
        options.scope,
        options.action,
        ttl=options.ttl,
        fast_path=False,
        max_risk=options.max_risk,
        door=options.door,
    )
    request.captchala = outcome
    if outcome.allowed:
        return Ruling(ALLOW, outcome)
    if outcome.rate_limited:
        return Ruling(LIMITED, outcome)
    if outcome.retry_later:
        return Ruling(UNAVAILABLE, outcome)
    return Ruling(CHALLENGE, outcome)


def _counted(request: Any, options: Options, ruling: Ruling, code: str = "") -> Ruling:
    """A ruling made without a check (a pass, no token, several): in the metrics too."""
    if not observe.backends():  # the fast path pays nothing without a metrics backend
        return ruling
    outcome = ruling.outcome or Outcome(
        allowed=False, failure_class=FailureClass.VALIDATION, code=code
    )
    observe.decision(options.door, observe.route_label(request), outcome)
    return ruling
