"""The bots, one method per role: made-up tokens, replays of used tokens, cookieless
floods; and the flood probe that counts the rows a bot's POST adds."""

from __future__ import annotations

import queue as queue_module
import random
import secrets
import time
from typing import Any

from .actor import Actor, ClientConfig
from .transport import Result, forged_csrf, made_up_token, new_session


class Bots(Actor):
    """The bots' roles (``bots_tokens``, ``bots_replay``, ``bots_flood``)."""

    def bot_address(self, thread: int) -> str:
        return f"127.{10 + self.cfg.index}.{100 + thread}.1"

    def _bot_target(
        self, target: str, token: str | None, csrf: str, headers: dict[str, str]
    ) -> tuple[str, str, dict[str, Any]]:
        """Where a bot's POST at ``target`` goes and what it sends: the URL, the server and
        the body (``headers`` gets the token, when the door takes it there)."""
        if target == "wsgi-html":
            data = {"to": "x", "amount": "5", "csrfmiddlewaretoken": csrf}
            if token:
                data["captchala_token"] = token
            return self.cfg.gunicorn + "/transfer/", "wsgi", {"data": data}
        if target == "asgi-json":
            headers["Accept"] = "application/json"
            if token:
                headers["X-CaptchaLa-Token"] = token
            data = {"amount": "5", "csrfmiddlewaretoken": csrf}
            return self.cfg.uvicorn + "/async-transfer/", "asgi", {"data": data}
        if target == "api":
            if token:
                headers["X-CaptchaLa-Token"] = token
            return self.cfg.gunicorn + "/api/transfer/", "wsgi", {"json": {"amount": 5}}
        if target == "comment":
            body = {"text": "spam", "captchala_token": token or ""}
            return self.cfg.gunicorn + "/api/comments/", "wsgi", {"json": body}
        raise ValueError(target)

    def _bot_post(
        self,
        thread: int,
        scenario: str,
        token: str | None,
        *,
        target: str,
        cookies: bool = True,
        forged_session: bool = False,
    ) -> Result:
        """One bot POST, each a new client: no cookie jar kept, a forged CSRF pair when
        ``cookies``, and sometimes a made-up session cookie."""
        address = self.bot_address(thread)
        session = new_session(address)
        user = f"{self.cfg.name}-{thread}"
        csrf = forged_csrf()
        cookie = f"csrftoken={csrf}" if cookies else ""
        if forged_session:
            cookie += f"; sessionid={secrets.token_hex(16)}"
        headers: dict[str, str] = {"Cookie": cookie} if cookie else {}
        common = {
            "scenario": scenario,
            "user": user,
            "address": address,
            "token": token,
            "forged_session": forged_session,
        }
        try:
            url, server, body = self._bot_target(target, token, csrf, headers)
            return self.http.request(
                session, "POST", url, kind="bot", server=server, headers=headers, **body, **common
            )
        finally:
            session.close()

    def bots_tokens(self, thread: int, n: int) -> None:
        """Made-up tokens at every front door."""
        target = random.choice(["wsgi-html", "wsgi-html", "asgi-json", "api", "comment"])
        forged = random.random() < 0.2
        self._bot_post(thread, "made-up", made_up_token(), target=target, forged_session=forged)
        self.pause(0.1, 0.3)

    def bots_replay(self, thread: int, n: int) -> None:
        """Replays of other users' tokens, already used, at every front door."""
        try:
            token = self.used_tokens.get(timeout=1.0)
        except queue_module.Empty:
            return
        for target in random.sample(["wsgi-html", "asgi-json", "api", "comment"], k=2):
            if not self.running():
                return
            self._bot_post(thread, "replay", token, target=target)
            self.pause(0.05, 0.2)

    def bots_flood(self, thread: int, n: int) -> None:
        """Cookieless floods: no cookie at all (CSRF refuses the form), the API without a
        token, and the server-token refresh endpoint (the budget, then 429)."""
        address = self.bot_address(thread)
        user = f"{self.cfg.name}-{thread}"
        choice = random.choice(["form", "api", "refresh", "refresh", "async"])
        if choice == "form":
            self._bot_post(thread, "cookieless", None, target="wsgi-html", cookies=False)
        elif choice == "async":
            self._bot_post(thread, "cookieless", None, target="asgi-json", cookies=False)
        elif choice == "api":
            self._bot_post(thread, "cookieless", None, target="api", cookies=False)
        else:
            session = new_session(address)
            csrf = forged_csrf()
            self.http.request(
                session,
                "POST",
                self.cfg.gunicorn + "/captchala/server-token/",
                scenario="cookieless",
                kind="refresh",
                user=user,
                server="wsgi",
                address=address,
                guarded=False,
                data={"action": "checkout", "csrfmiddlewaretoken": csrf},
                headers={"Cookie": f"csrftoken={csrf}"},
            )
            session.close()
        self.pause(0.05, 0.15)


def flood_probe(
    *, gunicorn: str, uvicorn: str, sandbox: str, log_path: str, target: str, posts: int
) -> None:
    """``posts`` cookieless bot POSTs with made-up tokens at one front door, one by one
    (the rows they add are counted around this call)."""
    cfg = ClientConfig(
        name="probe",
        role="probe",
        index=9,
        threads=1,
        gunicorn=gunicorn,
        uvicorn=uvicorn,
        sandbox=sandbox,
        start_at=0.0,
        stop_at=time.time() + 3600,
        log_path=log_path,
        seed=0,
    )
    bots = Bots(cfg, used_tokens=None)
    try:
        for _ in range(posts):
            bots._bot_post(0, "probe", made_up_token(), target=target)
    finally:
        bots.pool.shutdown()
        bots.log.close()
