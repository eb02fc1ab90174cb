"""Ask only when it matters: the check after failed attempts, instead of on every login.

A front door with ``step_up`` asks for the check only once the username posted, the
client's address (an IPv6 address by its /64) or the session has made ``threshold``
attempts within the window (``CAPTCHALA_STEP_UP``; defaults: 3 per username, 10 per
address, in 15 minutes). Below it the form shows no widget and needs no token.

Each attempt is counted *before* the password is checked, by one atomic statement that
returns the new count, so that parallel guesses are bounded: of any number sent at once,
at most ``threshold`` run without a solved check. A login that succeeds gives its attempt
back (its username's, address's and session's counts are each lowered by one);
a solved check does not, so past the threshold each solve buys one attempt. Failed logins
through other doors (Django's ``user_login_failed``) are counted too, once a front door
uses the step-up. Usernames, addresses and sessions are stored as keyed hashes; once an
address (or session) is over its threshold, a username is counted only if it has a count
already, so that made-up names cost a bot a solve each and the table no row each.

Other views: :func:`count_attempt` before the sensitive work (its ``needed`` says whether
this attempt needs the check), :func:`succeeded` after it went well.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.module_loading import import_string

from . import observe
from .checkpoints import counters
from .checkpoints.attempt import STEP_UP_NOTE
from .conf import SETTINGS, Fields, app_settings
from .ip import address_block, get_client_ip, parse_ip
from .models import CountedBy
from .scopes import route_of

logger = logging.getLogger("captchala_django.stepup")

#: Where the attempt a request counted is kept (so that it is counted once, and given back).
ATTEMPT_ATTRIBUTE = "_captchala_attempt"


@dataclass(frozen=True)
class StepUp:
    """Thresholds (``None``: not counted that way) and the window, in seconds. ``also``:
    a ``callable(request, username) -> bool`` (or its dotted path) that asks for the check
    too, such as django-axes' failure limit (:mod:`captchala_django.contrib.axes`)."""

    username: int | None = 3
    address: int | None = 10
    session: int | None = None
    window: int = 900
    also: Callable[[HttpRequest, str | None], bool] | str | None = None

    @staticmethod
    def validate(value: object) -> None:
        """A front door's ``step_up`` dict, checked as ``CAPTCHALA_STEP_UP`` is (E016):
        ``ImproperlyConfigured`` for a key or a value it does not take."""
        if not isinstance(value, dict):
            return
        rule = SETTINGS["CAPTCHALA_STEP_UP"].check
        shown = {k: v for k, v in value.items() if k != "also"}
        if isinstance(rule, Fields) and not rule.accepts(shown):
            raise ImproperlyConfigured(f"step_up must be {rule.describe()}; got {shown!r}.")

    def asks(self, request: HttpRequest, username: str | None) -> bool:
        """Whether ``also`` asks for the check."""
        if self.also is None:
            return False
        also = import_string(self.also) if isinstance(self.also, str) else self.also
        return bool(also(request, username))

    @classmethod
    def of(cls, value: StepUp | dict[str, Any] | bool | None) -> StepUp | None:
        """A front door's ``step_up``: ``True`` is ``CAPTCHALA_STEP_UP``, a dict overrides
        some of its keys, ``None``/``False`` is off."""
        if value is None or value is False:
            return None
        if isinstance(value, StepUp):
            return value
        base = cls(**(app_settings.STEP_UP or {}))
        return replace(base, **value) if isinstance(value, dict) else base


@dataclass
class Attempt:
    """One counted attempt: its keys (kind, digest, threshold) and their counts."""

    keys: list[tuple[str, str, int]]
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    #: The database could not count it: the check is asked for (never ridden).
    unknown: bool = False
    #: The policy's ``also`` asked for the check.
    asked: bool = False
    #: The route is under attack (:mod:`captchala_django.under_attack`): everyone is asked.
    under_attack: bool = False
    #: Given back once (a login that succeeded).
    given_back: bool = False

    @property
    def needed(self) -> bool:
        """This attempt needs a solved check: a count went past its threshold."""
        if self.unknown or self.asked or self.under_attack:
            return True
        return any(self.counts[(k, d)] > n for k, d, n in self.keys)

    @property
    def needed_by_client(self) -> bool:
        """The address or the session counted so far is over its threshold."""
        username = CountedBy.USERNAME.value
        return any(self.counts.get((k, d), 0) > n for k, d, n in self.keys if k != username)

    def reason(self) -> str:
        """What asked for the check, as a metric's label: ``username``, ``address,username``,
        ``under_attack``, ``also``, ``unknown``, or ``below`` (nothing did)."""
        if self.unknown or self.under_attack or self.asked:
            return "unknown" if self.unknown else "under_attack" if self.under_attack else "also"
        over = sorted({k for k, d, n in self.keys if self.counts[(k, d)] > n})
        return ",".join(over) or "below"

    def why(self) -> str:
        """What asked for the check, for its record: ``step-up: username 4 > 3``."""
        if self.unknown:
            return "step-up: counts unavailable"
        if self.under_attack:
            return "step-up: under attack"
        if self.asked:
            return "step-up: also asked"
        over = [
            f"{k} {self.counts[(k, d)]} > {n}" for k, d, n in self.keys if self.counts[(k, d)] > n
        ]
        return "step-up: " + ", ".join(over) if over else ""

    @property
    def next_needed(self) -> bool:
        """The next attempt will need it (the form shows the widget again)."""
        if self.unknown or self.asked or self.under_attack:
            return True
        return any(self.counts[(k, d)] >= n for k, d, n in self.keys)


#: Usernames are folded from their first characters only: no account has a longer one,
#: and NFKC of a huge one costs seconds of CPU.
USERNAME_MAX = 256
#: A letter a case-insensitive database matches that case folding keeps apart.
_LOOK_ALIKE = str.maketrans({"\u0131": "i"})  # dotless i: PostgreSQL's UPPER() gives I


def normal_username(username: str) -> str:
    """One count per account whatever a login form or a database folds: NFKC, case-folded,
    accents and invisible characters dropped, a dotless i read as i, trimmed. Coarser than
    any one backend on purpose: two accounts may share a count, one account never has two."""
    text = unicodedata.normalize("NFKC", username[:USERNAME_MAX]).casefold().translate(_LOOK_ALIKE)
    kept = (
        c
        for c in unicodedata.normalize("NFKD", text)
        if unicodedata.category(c) not in ("Mn", "Cf")
    )
    return "".join(kept).strip()


def _digest(kind: str, value: str, window: int) -> str:
    # The window is part of the key: a door with a longer window keeps its own counts.
    salt = f"captchala_django.stepup.{kind}.{window}"
    return salted_hmac(salt, value, algorithm="sha256").hexdigest()


def _keys(request: HttpRequest, username: str | None, policy: StepUp) -> list[tuple[str, str, int]]:
    keys = []
    window = policy.window
    name = normal_username(username) if isinstance(username, str) else ""
    if policy.username and name:
        keys.append((CountedBy.USERNAME.value, _digest("username", name, window), policy.username))
    address = get_client_ip(request)
    # No address known (no REMOTE_ADDR, a resolver's junk): not counted by address, rather
    # than every such client in one count that would step everyone up.
    if policy.address and address:
        digest = _digest("address", address_block(address), window)
        keys.append((CountedBy.ADDRESS.value, digest, policy.address))
    session = getattr(request, "session", None)
    if policy.session and session is not None and session.session_key:
        digest = _digest("session", session.session_key, window)
        keys.append((CountedBy.SESSION.value, digest, policy.session))
    return keys


def count_attempt(
    request: HttpRequest, username: str | None = None, policy: StepUp | None = None
) -> Attempt:
    """Count one attempt of ``request`` (for ``username``), once per request, before the
    password or other secret is checked; ``needed`` says whether it needs the check."""
    kept: Attempt | None = getattr(request, ATTEMPT_ATTRIBUTE, None)
    if kept is not None:
        return kept
    policy = policy or StepUp.of(True)
    assert policy is not None
    attempt = Attempt(keys=_keys(request, username, policy))
    now = timezone.now()
    ends = now + timedelta(seconds=policy.window)
    try:
        _count(attempt, now, ends)
        attempt.asked = policy.asks(request, username)
        attempt.under_attack = _under_attack(request)
    except DatabaseError as exc:
        # Counted or not, this attempt cannot be let through unchecked: a bot must not
        # ride an outage of the counts.
        logger.warning("step-up: attempts could not be counted, asking for the check: %s", exc)
        attempt.unknown = True
    # Kept on the request, as its client address is; HttpRequest declares no such field.
    setattr(request, ATTEMPT_ATTRIBUTE, attempt)
    if attempt.needed:
        setattr(request, STEP_UP_NOTE, attempt.why())  # on the check's record
    observe.step_up(attempt.needed, attempt.reason())
    return attempt


def _count(attempt: Attempt, now: datetime, ends: datetime) -> None:
    # The address and the session first: once one of them is over its threshold this
    # attempt needs the check anyway, and a username is counted only if it has a count
    # already, so that a bot posting made-up names from one address adds no row per name.
    username = CountedBy.USERNAME.value
    for kind, digest, _ in sorted(attempt.keys, key=lambda key: key[0] == username):
        if kind == username and attempt.needed_by_client:
            attempt.counts[(kind, digest)] = counters.add_existing(kind, digest, now)
        else:
            attempt.counts[(kind, digest)] = counters.add(kind, digest, now, ends)


def _under_attack(request: HttpRequest) -> bool:
    from .under_attack import active  # the read side's verdict, below the front doors

    return active(route_of(request)) is not None


def check_needed(
    request: HttpRequest, username: str | None = None, policy: StepUp | None = None
) -> bool:
    """Whether the next attempt of this client (for ``username``) will need the check,
    read without counting (a page deciding whether to show the widget)."""
    policy = policy or StepUp.of(True)
    assert policy is not None
    keys = _keys(request, username, policy)
    try:
        counts = counters.current([(k, d) for k, d, _ in keys], timezone.now())
        asked = policy.asks(request, username) or _under_attack(request)
    except DatabaseError as exc:
        logger.warning("step-up: attempts could not be read, asking for the check: %s", exc)
        return True
    return asked or any(counts[(k, d)] >= n for k, d, n in keys)


def succeeded(request: HttpRequest) -> None:
    """The attempt went well (a login succeeded): the attempt this request counted is given
    back, to its username, address and session. Never more: earlier failures stay counted
    until their window ends, since an account whose name folds like another's (``jeßica``,
    ``jessica``) must not wipe the other's failures by logging in."""
    attempt: Attempt | None = getattr(request, ATTEMPT_ATTRIBUTE, None)
    if attempt is None or attempt.given_back:
        return
    attempt.given_back = True
    now = timezone.now()
    try:
        for kind, digest, _ in attempt.keys:
            counters.give_back(kind, digest, now)
    except DatabaseError as exc:
        logger.warning("step-up: a successful attempt could not be given back: %s", exc)


def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    """``user_login_failed``: a failure through a door that did not count its attempt (an
    API's ``authenticate()``, a login form without the step-up) counts for its username
    and address too."""
    if request is None or getattr(request, ATTEMPT_ATTRIBUTE, None) is not None:
        return
    username = credentials.get("username") or credentials.get("login") or credentials.get("email")
    count_attempt(request, username if isinstance(username, str) else None)


def on_logged_in(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    """``user_logged_in``: the attempt this request counted went well."""
    if request is not None:
        succeeded(request)


def digests_of(term: str) -> list[str]:
    """The keyed hashes a username, an address or a session key is stored under (the
    admin's search: the table keeps no name to search)."""
    term, window = term.strip(), (StepUp.of(True) or StepUp()).window
    found = [_digest("username", normal_username(term), window), _digest("session", term, window)]
    if parse_ip(term) is not None:
        found.append(_digest("address", address_block(term), window))
    return found
