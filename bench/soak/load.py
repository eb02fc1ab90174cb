"""The load: what one client process runs (``clients.py`` starts them), simulated users
and bots over real HTTP.

The pieces, one job each: ``transport`` (sessions, the request log, one measured
request), ``replies`` (what a reply says), ``actor`` (a process's threads and pauses),
``moves`` (how a user submits, retries, bursts), ``users`` and ``bots`` (the roles).
The names this module had before the split are still importable from it.
"""

from __future__ import annotations

from .actor import ClientConfig
from .bots import Bots, flood_probe
from .moves import MAX_RESOLVES, MAX_RETRIES
from .transport import (
    REQUEST_TIMEOUT,
    Http,
    JsonlLog,
    Result,
    Stopped,
    forged_csrf,
    made_up_token,
    new_session,
    short_hash,
)
from .users import Users

__all__ = [
    "BOT_ROLES",
    "MAX_RESOLVES",
    "MAX_RETRIES",
    "REQUEST_TIMEOUT",
    "ROLES",
    "Client",
    "ClientConfig",
    "Http",
    "JsonlLog",
    "Result",
    "Stopped",
    "flood_probe",
    "forged_csrf",
    "made_up_token",
    "new_session",
    "short_hash",
]

ROLES = ("wsgi_users", "asgi_users", "api_users", "bots_tokens", "bots_replay", "bots_flood")
BOT_ROLES = frozenset({"bots_tokens", "bots_replay", "bots_flood", "probe"})


class Client(Users, Bots):
    """One client process: ``threads`` simulated users (or bots) of one role."""
