"""The write path: the only code that writes checkpoints, events and the ledger.

``verify_and_record`` runs the steps of a check (DESIGN §5), one module each:

1. refuse a token that cannot be one (empty, > 4 KiB, not printable ASCII) —
   :mod:`.flow` (the sequence of steps, in order);
2. fast path: one query for a passed, unexpired checkpoint of the scope —
   :mod:`.lookup`;
3. claim the token in the replay ledger (one insert that may conflict): a claim
   for another scope is a ``replay``; a claim in flight is waited for; a
   finished claim of this scope answers only as an idempotent retry —
   :mod:`.ledger` (the typed claim) and :mod:`.answers` (what it says next);
4. call the provider, with no transaction open and no row locked by us —
   :mod:`.flow`;
5. write the outcome in one atomic write: upsert the checkpoint (``version``
   + 1), finish the ledger row (or release it when the provider gave no
   verdict), append one record; a database error is retried once, then is
   class ``persistence`` — :mod:`.write` and one module per dialect, the rows
   spelled once in :mod:`.rows`, the keep-a-live-pass rule in :mod:`.rules`;
6. decide, log one line, send the signal after commit — :mod:`.decide`,
   :mod:`.telemetry`.

Tokens shown on a request that a pass let through are claimed by :mod:`.shown`.

Resets and expiries made by hand are :mod:`.state`. Every read that decides
trust goes to ``router.db_for_write(Checkpoint)``.
"""

from __future__ import annotations

from .attempt import db_alias, request_id_of, token_digest
from .flow import skips_check, verify_and_record
from .ledger import retry_window
from .lookup import get_passed
from .outcome import RATE_LIMITED, Outcome
from .shown import claim_shown
from .state import expire, reset

__all__ = [
    "RATE_LIMITED",
    "Outcome",
    "claim_shown",
    "db_alias",
    "expire",
    "get_passed",
    "request_id_of",
    "reset",
    "retry_window",
    "skips_check",
    "token_digest",
    "verify_and_record",
]
