"""Per-client budgets of provider calls: server tokens issued, and validate calls of a
client whose checks keep failing.

Anyone can make the site call CaptchaLa: by loading a page (a server token), by
posting to the refresh endpoint, or by posting made-up tokens (a validate call
each). CaptchaLa rate-limits the site as a whole, and every call holds a worker
for its reply time, so each client gets a budget a minute:

* **issue**: ``CAPTCHALA_SERVER_TOKEN_BUDGET`` calls for a session, and twice that
  for its address (IPv6 by its /64), so that minting sessions buys at most twice
  the budget; a client without a session spends the budget of its address;
* **validate**: ``CAPTCHALA_VALIDATE_BUDGET`` *failed* checks that made a provider
  call, counted for the session and for the address. A check that passes costs
  nothing, and the address's count never blocks a client that holds a live pass,
  so one bot behind a shared address (NAT, a campus) costs its neighbours a minute
  at most.

Counts live in Django's cache ``CAPTCHALA_CACHE`` (use a shared one, such as
Redis, with several processes: system check W012 says so). A budget holds
whatever that cache does:

* a cache that counts nothing (``DummyCache``, or any cache that loses a key it
  just took) is replaced by a counter in this process's memory;
* a cache that is down refuses server tokens (the widget works without one) and
  counts validate calls in this process's memory, so logins go on; one WARNING is
  logged per outage, not per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.memcached import BaseMemcachedCache
from django.core.cache.backends.redis import RedisCache
from django.core.checks import CheckMessage, Warning
from django.http import HttpRequest
from django.utils.crypto import salted_hmac
from django.utils.module_loading import import_string

from . import observe
from .checks_keys import in_a_test_run
from .conf import app_settings, get_setting
from .exceptions import (
    BudgetExceeded,
    BudgetUnavailable,
    ConfigurationError,
    ValidateBudgetExceeded,
)
from .ip import address_block, get_client_ip
from .keys import app_of
from .scopes import session_key_of

# The budget errors are defined in .exceptions, with the others; they can still be
# imported from here.
__all__ = [
    "ADDRESS_FACTOR",
    "BUDGET_CACHE_CHECK_ID",
    "WINDOW",
    "BudgetExceeded",
    "BudgetUnavailable",
    "Reservation",
    "ValidateBudgetExceeded",
    "check_budget_cache",
    "reserve_validate",
    "reset",
    "retry_after",
    "spend_issue",
    "subjects",
]

logger = logging.getLogger("captchala_django.budgets")
_T = TypeVar("_T")

#: The budgets' window, in seconds.
WINDOW = 60
#: A session's address may spend this many times a session's issue budget.
ADDRESS_FACTOR = 2
#: The warning about a cache that cannot count for several processes.
BUDGET_CACHE_CHECK_ID = "captchala_django.W012"

# Where counts go when the configured cache cannot keep them: this process's memory,
# bounded in entries (Django's own thread-safe LRU store).
_local = LocMemCache(
    "captchala-budgets", {"TIMEOUT": WINDOW * 2, "OPTIONS": {"MAX_ENTRIES": 20_000}}
)
_outage_lock = threading.Lock()
_outage = False
# Part of every key: reset() starts every budget afresh without touching the site's cache.
_generation = 0


def reset() -> None:
    """Start every budget of this process afresh (for test suites: the sandbox's
    fixtures call it, so one test's failed checks never refuse the next test's)."""
    global _generation
    _generation += 1
    _local.clear()


class _CacheDown(Exception):
    pass


class _CountsNothing(Exception):
    """The cache took a key and lost it at once (``DummyCache`` and its like)."""


# --------------------------------------------------------------------------- who


def subjects(request: HttpRequest) -> tuple[str | None, str]:
    """Who spends: the session (only one that exists: made-up cookies and cookieless
    clients have none) and the address block. Hashed: no session key reaches the cache.

    Resolved once per request (a list of items spends as the client it was when the
    request came in, even if a check of it has since given the client a session). With keys
    per site, each app's clients spend budgets of their own."""
    found: tuple[str | None, str] | None = request.__dict__.get("_captchala_budget_subjects")
    if found is None:
        session = getattr(request, "session", None)
        key = session_key_of(session) if session is not None else None
        app = app_of(request)
        address = _hashed(f"{app}|ip:{address_block(get_client_ip(request))}")
        found = (_hashed(f"{app}|s:{key}") if key else None), address
        request.__dict__["_captchala_budget_subjects"] = found
    return found


def _hashed(subject: str) -> str:
    return salted_hmac("captchala_django.budget", subject, algorithm="sha256").hexdigest()[:32]


# --------------------------------------------------------------------------- counting


@dataclass
class _Counter:
    """One subject's sliding count: this minute's calls plus the share of the previous
    minute's that the last 60 s still cover (so two budgets are never spent across a
    minute's boundary)."""

    kind: str
    subject: str
    now: float = field(default_factory=lambda: time.time())

    @property
    def key(self) -> str:
        return self._key(int(self.now // WINDOW))

    @property
    def previous_key(self) -> str:
        return self._key(int(self.now // WINDOW) - 1)

    def _key(self, slot: int) -> str:
        return f"captchala:{self.kind}:{_generation}:{self.subject}:{slot}"

    def add(self, store: BaseCache, n: int) -> float:
        """Add ``n`` (negative: give back) and return the sliding count."""
        store.add(self.key, 0, timeout=WINDOW * 2)
        try:
            current = int(store.incr(self.key, n))
        except ValueError:  # the key is gone right after add(): the cache keeps nothing
            raise _CountsNothing from None
        if current < 0:
            # A give-back after the count was evicted: never bank a credit.
            current = int(store.incr(self.key, -current))
        return current + self._previous(store)

    def first_refusal(self, store: BaseCache) -> bool:
        """Whether this is the subject's first refusal in this minute (one ``add``)."""
        return bool(store.add(self.key + ":refused", 1, timeout=WINDOW))

    def _previous(self, store: BaseCache) -> float:
        share = 1 - (self.now % WINDOW) / WINDOW
        return float(store.get(self.previous_key, 0)) * share


def retry_after(now: float | None = None) -> int:
    """Seconds until the current minute's count starts to fade."""
    now = time.time() if now is None else now
    return int(WINDOW - now % WINDOW) + 1


def _store() -> BaseCache:
    cache = caches[app_settings.CACHE]
    return _local if isinstance(cache, DummyCache) else cache


#: Caches whose ``incr`` is atomic (one server-side operation, or a lock of their own).
#: Django's default ``incr`` (DatabaseCache, FileBasedCache) is a get then a set: counts
#: made in parallel are lost, so this process serialises its own (W012 says the rest).
_ATOMIC = (LocMemCache, RedisCache, BaseMemcachedCache)
_nonatomic_lock = threading.Lock()


def _in_process(work: Callable[[BaseCache], _T], fallback: _T) -> _T:
    """``work`` on this process's own count (bounded in entries: an entry culled between
    two steps of one count gives ``fallback``, never a 500)."""
    try:
        return work(_local)
    except _CountsNothing:
        return fallback


def _counted(work: Callable[[BaseCache], _T], fallback: _T, *, local_when_down: bool) -> _T:
    """Run ``work`` on the budget's store. When the cache is down: log once per outage,
    then count in this process (``local_when_down``) or raise ``_CacheDown``."""
    global _outage
    store = _store()
    try:
        if isinstance(store, _ATOMIC):
            value = work(store)
        else:
            with _nonatomic_lock:
                value = work(store)
    except _CountsNothing:
        # A cache that counts nothing would turn the budget off: count here instead.
        return _in_process(work, fallback)
    except Exception as exc:  # any cache client's error: the budget must not be a 500
        with _outage_lock:
            first, _outage = not _outage, True
        if first:
            logger.warning(
                "the budget cache %r is unavailable (%s); server tokens are refused and "
                "validate calls are counted per process until it is back",
                app_settings.CACHE,
                type(exc).__name__,
            )
        if not local_when_down:
            raise _CacheDown from exc
        return _in_process(work, fallback)
    if _outage:
        with _outage_lock:
            recovered, _outage = _outage, False
        if recovered:
            logger.info("the budget cache %r is back", app_settings.CACHE)
    return value


# --------------------------------------------------------------------------- issue


def spend_issue(request: HttpRequest) -> None:
    """Count one server-token issue call; raise ``BudgetExceeded`` past a budget, or
    ``BudgetUnavailable`` when the cache cannot count. Refused calls count too, so a
    flood stays refused."""
    budget = int(app_settings.SERVER_TOKEN_BUDGET)
    session, address = subjects(request)
    limits = [(session, budget), (address, budget * ADDRESS_FACTOR)] if session else []
    limits = limits or [(address, budget)]
    counters = [(_Counter("issue", subject), limit) for subject, limit in limits]
    try:
        spent = [
            (_counted(partial(c.add, n=1), 0.0, local_when_down=False), limit)
            for c, limit in counters
        ]
    except _CacheDown:
        observe.budget_refused("server_token")
        raise BudgetUnavailable(WINDOW, "the budget cache is unavailable") from None
    over = [(n, limit) for n, limit in spent if n > limit]
    if not over:
        return
    observe.budget_refused("server_token")
    if all(n - 1 <= limit for n, limit in spent):  # the first refusal, not every refused call
        logger.warning(
            "server-token budget of %s a minute used up by one client; "
            "rendering without a fresh server token",
            budget,
        )
    raise BudgetExceeded(retry_after(counters[0][0].now), "server-token budget used up")


# --------------------------------------------------------------------------- validate


@dataclass
class Reservation:
    """Validate calls reserved before the provider is asked: kept when the check failed
    with a provider call (or claimed a token shown with a pass), given back otherwise."""

    counters: list[_Counter] = field(default_factory=list)

    def settle(self, keep: bool) -> None:
        if keep:
            return
        for counter in self.counters:
            try:
                _counted(partial(counter.add, n=-1), 0.0, local_when_down=True)
            except Exception:  # noqa: BLE001 - giving back is best effort
                logger.debug("could not give back a reserved validate call")
        self.counters.clear()


def reserve_validate(
    request: HttpRequest | None, holds_own_pass: Callable[[], bool]
) -> Reservation:
    """Reserve one validate call for the request's client, atomically (parallel
    requests cannot all slip under the budget), or raise ``ValidateBudgetExceeded``.

    The session's count always applies. The address's does not to a client with a
    session that ``holds_own_pass()`` (a pass bound to it, asked only when the address
    is over its budget): a neighbour's flood must not block it, and its session's count
    still bounds it. A client without a session has only its address's count.
    """
    budget = int(app_settings.VALIDATE_BUDGET or 0)
    reservation = Reservation()
    if request is None or budget <= 0:
        return reservation
    session, address = subjects(request)
    for subject in (session, address):
        if subject is None:
            continue
        counter = _Counter("validate", subject)
        spent = _counted(partial(counter.add, n=1), 0.0, local_when_down=True)
        if spent <= budget:
            reservation.counters.append(counter)
            continue
        _counted(partial(counter.add, n=-1), 0.0, local_when_down=True)
        if subject == address and session is not None and holds_own_pass():
            continue
        reservation.settle(keep=False)
        first = _counted(counter.first_refusal, False, local_when_down=True)
        observe.budget_refused("validate")
        raise ValidateBudgetExceeded(retry_after(counter.now), first)
    return reservation


# --------------------------------------------------------------------------- the system check


def check_budget_cache(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The budgets count in ``CAPTCHALA_CACHE``: a cache that lives per process (or counts
    nothing, and is replaced by one that does) gives each process a budget of its own,
    and one whose ``incr`` is not atomic loses counts made at once by several processes.
    Quiet with ``DEBUG`` on (a development server is one process) and in test runs."""
    try:
        alias = get_setting("CAPTCHALA_CACHE")
    except ConfigurationError:
        return []  # E009: checks.check_settings says it
    config = (getattr(settings, "CACHES", None) or {}).get(alias)
    if settings.DEBUG or not isinstance(config, dict) or in_a_test_run():
        return []
    try:
        backend = import_string(config.get("BACKEND", ""))
    except ImportError:  # Django reports a cache that does not import
        return []
    problem = _cache_weakness(backend) if isinstance(backend, type) else None
    if problem is None:
        return []
    return [
        Warning(
            f"CAPTCHALA_CACHE ({alias!r}) is {backend.__name__}, {problem}.",
            hint="Point CAPTCHALA_CACHE at a cache all processes share and that counts "
            "atomically, such as django.core.cache.backends.redis.RedisCache or "
            "PyMemcacheCache.",
            id=BUDGET_CACHE_CHECK_ID,
        )
    ]


def _cache_weakness(backend: type) -> str | None:
    """How a cache of class ``backend`` counts the budgets of several processes wrongly,
    or None when it counts them well."""
    from django.core.cache.backends.db import DatabaseCache
    from django.core.cache.backends.filebased import FileBasedCache

    if issubclass(backend, (LocMemCache, DummyCache)):
        return (
            "which each process keeps for itself: with several workers, each one spends "
            "its own budget of server tokens and failed checks per client"
        )
    if issubclass(backend, (DatabaseCache, FileBasedCache)):
        return (
            "whose incr() is a read then a write: requests counted at once in several "
            "processes lose each other's counts, and slip under the budget together"
        )
    return None


# --------------------------------------------------------------------------- periodic work


def due(key: str, seconds: int) -> bool:
    """Whether a periodic job named ``key`` is due: true for one caller per ``seconds``
    across the processes that share the cache (per process while it is down)."""
    return _counted(
        lambda store: bool(store.add(f"captchala:due:{key}", 1, seconds)),
        False,
        local_when_down=True,
    )
