"""The honest users, one method per role: the HTML form under gunicorn, the async view
under uvicorn, the DRF API under gunicorn."""

from __future__ import annotations

import random
from typing import Any

import requests

from .moves import Moves
from .transport import Result, new_session


class Users(Moves):
    """The real users' roles (``wsgi_users``, ``asgi_users``, ``api_users``)."""

    def _form(self, session: requests.Session, token: str | None = None) -> dict[str, Any]:
        data = {
            "to": "DE89 3704 0044 0532 0130 00",
            "amount": str(random.randint(1, 500)),
            "csrfmiddlewaretoken": session.cookies.get("csrftoken", ""),
        }
        if token is not None:
            data["captchala_token"] = token
        return {"data": data}

    def _json_form(self, session: requests.Session, token: str | None = None) -> dict[str, Any]:
        """The async view: form data with the CSRF field, the token in the header, JSON back."""
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["X-CaptchaLa-Token"] = token
        data = {
            "amount": str(random.randint(1, 500)),
            "csrfmiddlewaretoken": session.cookies.get("csrftoken", ""),
        }
        return {"data": data, "headers": headers}

    def _pass_transfer(
        self, session: requests.Session, scenario: str, user: str, address: str
    ) -> Result:
        """GET the transfer page, solve the check, POST: the usual first transfer."""
        base = self.cfg.gunicorn
        self.http.request(
            session,
            "GET",
            base + "/transfer/",
            scenario=scenario,
            kind="page",
            user=user,
            server="wsgi",
            address=address,
            guarded=False,
        )
        self.pause()
        token = self.http.mint(scenario, user)
        result, _ = self.submit(
            session,
            base + "/transfer/",
            scenario=scenario,
            user=user,
            server="wsgi",
            address=address,
            token=token,
            send=lambda t: self._form(session, t),
        )
        return result

    def _double_first_transfer(
        self, session: requests.Session, base: str, scenario: str, common: dict[str, Any]
    ) -> None:
        """The form's first transfer double-clicked; one plain retry if neither went in."""
        user = common["user"]
        self.http.request(
            session, "GET", base, scenario=scenario, kind="page", guarded=False, **common
        )
        token = self.http.mint(scenario, user)
        # A double click on the first submit: both POSTs without a session yet.
        if (
            not self.double_submit(
                session, base, scenario, token, self._form(session, token), common
            )
            and self.running()
        ):
            self.pause()
            self.submit(
                session,
                base,
                scenario=scenario,
                token=token,
                send=lambda t: self._form(session, t),
                kind="retry",
                **common,
            )

    def wsgi_users(self, thread: int, n: int) -> None:
        """The HTML form under gunicorn: plain flows, double submits, bursts."""
        address = self.next_address(thread)
        user = f"{self.cfg.name}-{thread}-{n}"
        session = new_session(address)
        base = self.cfg.gunicorn + "/transfer/"
        scenario = random.choices(["form", "double", "burst"], weights=[5, 2, 2])[0]
        common = {"user": user, "server": "wsgi", "address": address}
        if scenario == "double":
            self._double_first_transfer(session, base, scenario, common)
        else:
            self._pass_transfer(session, scenario, user, address)
        send = self._form(session)
        if scenario == "burst":
            self.pause()
            self.burst(session, base, scenario=scenario, send=lambda i: send, **common)
        self.ride(session, base, random.randint(2, 5), scenario=scenario, send=send, **common)
        session.close()
        self.pause(0.2, 0.5)

    def _async_first_transfer(
        self,
        session: requests.Session,
        url: str,
        scenario: str,
        token: str,
        common: dict[str, Any],
    ) -> None:
        """The async view's tokened POST: one, two at once, or a burst of one token."""
        if scenario == "cross-double":
            self.double_submit(
                session, url, scenario, token, self._json_form(session, token), common
            )
        elif scenario == "cross-burst":
            self.burst(
                session,
                url,
                scenario=scenario,
                token=token,
                send=lambda i: self._json_form(session, token),
                **common,
            )
        else:
            self.submit(
                session,
                url,
                scenario=scenario,
                token=token,
                send=lambda t: self._json_form(session, t),
                **common,
            )

    def asgi_users(self, thread: int, n: int) -> None:
        """The async view under uvicorn: plain flows, bursts, and a session that passed the
        sync view double-submitting (or bursting) one token at the async one."""
        address = self.next_address(thread)
        user = f"{self.cfg.name}-{thread}-{n}"
        session = new_session(address)
        url = self.cfg.uvicorn + "/async-transfer/"
        common = {"user": user, "server": "asgi", "address": address}
        scenario = random.choices(
            ["async", "async-burst", "cross-double", "cross-burst"], weights=[4, 2, 2, 2]
        )[0]
        if scenario.startswith("cross-"):
            self._pass_transfer(session, scenario, user, address)
            self.pause()
        self.http.request(
            session, "GET", url, scenario=scenario, kind="page", guarded=False, **common
        )
        token = self.http.mint(scenario, user)
        self._async_first_transfer(session, url, scenario, token, common)
        send = self._json_form(session)
        if scenario == "async-burst":
            self.pause()
            self.burst(session, url, scenario=scenario, send=lambda i: send, **common)
        self.ride(session, url, random.randint(2, 5), scenario=scenario, send=send, **common)
        session.close()
        self.pause(0.2, 0.5)

    def api_users(self, thread: int, n: int) -> None:
        """The DRF API under gunicorn: the ``ip``-scoped transfer (a token, then calls riding
        the address's checkpoint; sometimes a double submit) and a comment (a token a post)."""
        address = self.next_address(thread)
        user = f"{self.cfg.name}-{thread}-{n}"
        session = new_session(address)
        url = self.cfg.gunicorn + "/api/transfer/"
        common = {"user": user, "server": "wsgi", "address": address}
        scenario = random.choices(["api", "api-double"], weights=[3, 1])[0]
        token = self.http.mint(scenario, user)

        def send(t: str | None) -> dict[str, Any]:
            headers = {"X-CaptchaLa-Token": t} if t else {}
            return {"json": {"amount": random.randint(1, 500)}, "headers": headers}

        if scenario == "api-double":
            self.double_submit(session, url, scenario, token, send(token), common)
        else:
            self.submit(session, url, scenario=scenario, token=token, send=send, **common)
        self.ride(session, url, random.randint(2, 5), scenario=scenario, send=send(None), **common)
        if random.random() < 0.5 and self.running():
            self.pause()
            comment = self.http.mint("comment", user, action="comment")
            self.submit(
                session,
                self.cfg.gunicorn + "/api/comments/",
                scenario="comment",
                token=comment,
                send=lambda t: {"json": {"text": "hello", "captchala_token": t}},
                **common,
            )
        session.close()
        self.pause(0.2, 0.5)
