"""How a real user sends: a submit that retries after a fault and solves again after a
403, a double click, a burst of parallel requests, requests riding a checkpoint.

Threads give the parallel bursts (a double submit, eight requests at once), sharing
that user's session. A token a user got allowed with is handed to the replaying bots.
"""

from __future__ import annotations

import contextlib
import queue as queue_module
import random
import time
from collections.abc import Callable
from typing import Any

import requests

from .actor import Actor
from .transport import Result

#: A user retries a token answered 503 at most this many times, after the fault.
MAX_RETRIES = 3
#: ... and solves a fresh check at most this many times after a 403 for a valid token.
MAX_RESOLVES = 1


class Moves(Actor):
    """The moves the users' scenarios are made of."""

    def next_address(self, thread: int) -> str:
        """A fresh loopback address for a new user of this thread."""
        with self._lock:
            self._counter += 1
            n = self._counter
        return f"127.{10 + self.cfg.index}.{thread + 1}.{2 + n % 250}"

    def share(self, token: str) -> None:
        """Hand a used token to the replay bot (a token seen on the wire)."""
        with contextlib.suppress(queue_module.Full, OSError, ValueError):
            self.used_tokens.put_nowait(token)

    def wait_out_fault(self) -> None:
        """After a 503 with Retry-After: wait until the outage is over (bounded), then retry."""
        deadline = time.time() + 20
        while time.time() < deadline and self.running() and self.http.fault_active():
            time.sleep(0.5)
        time.sleep(random.uniform(0.2, 0.6))

    def double_submit(
        self,
        session: requests.Session,
        url: str,
        scenario: str,
        token: str,
        body: dict[str, Any],
        common: dict[str, Any],
    ) -> bool:
        """Two POSTs of one token at once (a double click); a used token is shared with the
        replaying bots. Whether either was allowed."""
        results = self.parallel(
            2,
            lambda i: self.http.request(
                session,
                "POST",
                url,
                scenario=scenario,
                kind="double",
                token=token,
                **common,
                **body,
            ),
        )
        allowed = any(r.allowed for r in results)
        if allowed:
            self.share(token)
        return allowed

    def submit(
        self,
        session: requests.Session,
        url: str,
        *,
        scenario: str,
        user: str,
        server: str,
        address: str,
        token: str,
        send: Callable[[str], dict[str, Any]],
        kind: str = "submit",
    ) -> tuple[Result, str]:
        """POST with ``token``; on 503 with Retry-After, retry the same token after the
        fault (bounded); on a 403, solve a fresh check once. Returns the last result and
        the token it carried."""
        retries = resolves = 0
        while True:
            result = self.http.request(
                session,
                "POST",
                url,
                scenario=scenario,
                kind=kind,
                user=user,
                server=server,
                address=address,
                token=token,
                **send(token),
            )
            if result.allowed:
                self.share(token)
                return result, token
            if not self.running():
                return result, token
            if result.status == 503 and result.headers.get("Retry-After"):
                if retries >= MAX_RETRIES:
                    return result, token
                retries += 1
                kind = "retry"
                self.wait_out_fault()
            elif result.status is None:  # the connection broke: try the same token again
                if retries >= MAX_RETRIES:
                    return result, token
                retries += 1
                kind = "retry"
                time.sleep(1.0)
            elif result.status == 403 and resolves < MAX_RESOLVES:
                resolves += 1
                kind = "resolve"
                self.pause()
                token = self.http.mint(scenario, user)
            else:
                return result, token

    def ride(
        self,
        session: requests.Session,
        url: str,
        times: int,
        *,
        scenario: str,
        user: str,
        server: str,
        address: str,
        send: dict[str, Any],
    ) -> None:
        for _ in range(times):
            if not self.running():
                return
            self.pause()
            self.http.request(
                session,
                "POST",
                url,
                scenario=scenario,
                kind="ride",
                user=user,
                server=server,
                address=address,
                **send,
            )

    def burst(
        self,
        session: requests.Session,
        url: str,
        *,
        scenario: str,
        user: str,
        server: str,
        address: str,
        send: Callable[[int], dict[str, Any]],
        token: str | None = None,
        n: int = 8,
    ) -> list[Result]:
        def one(i: int) -> Result:
            return self.http.request(
                session,
                "POST",
                url,
                scenario=scenario,
                kind="burst",
                user=user,
                server=server,
                address=address,
                token=token,
                **send(i),
            )

        results = self.parallel(n, one)
        if token and any(r.allowed for r in results):
            self.share(token)
        return results
