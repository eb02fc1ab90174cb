"""Rows a cookieless bot POST adds to each table, through the decorator and a form.

Bots post without cookies, each request a new client: made-up tokens, replays of
a real user's token, and requests with no token at all. Counted from the
database before and after; nothing is timed.
"""

from __future__ import annotations

from django.contrib.sessions.models import Session
from django.test import Client
from django.test.utils import override_settings

from bench.db import prepare
from captchala_django.models import Checkpoint, CheckpointEvent, PassToken
from captchala_django.sandbox.pytest_plugin import sandbox_settings
from captchala_django.sandbox.server import LiveSandbox

POSTS = 200
TABLES = [
    ("sessions", Session),
    ("checkpoints", Checkpoint),
    ("events", CheckpointEvent),
    ("ledger", PassToken),
]


def _counts() -> dict[str, int]:
    return {name: model.objects.count() for name, model in TABLES}


def _flood(url: str, token_for) -> dict[str, float]:
    before = _counts()
    for i in range(POSTS):
        data = {"username": "bot", "password": "x"}
        token = token_for(i)
        if token is not None:
            data["captchala_token"] = token
        status = Client().post(url, data, HTTP_ACCEPT="application/json").status_code
        assert status in (200, 403), status  # 200: the login form re-rendered with its error
    after = _counts()
    return {name: (after[name] - before[name]) / POSTS for name, _ in TABLES}


def run() -> list[str]:
    prepare()
    lines = []
    with LiveSandbox() as live, override_settings(**sandbox_settings(live)):
        stolen = live.mint_pass_token()
        owner = Client()
        assert owner.post("/transfer/", {"captchala_token": stolen}).status_code == 200
        floods = [
            ("decorator, made-up tokens", "/transfer/", lambda i: f"pt_made-up-{i:06d}-bot"),
            ("decorator, a replayed token", "/transfer/", lambda i: stolen),
            ("decorator, no token", "/transfer/", lambda i: None),
            ("login form, made-up tokens", "/login/", lambda i: f"pt_guess-{i:06d}-bot"),
        ]
        for name, url, token_for in floods:
            added = _flood(url, token_for)
            cells = ", ".join(f"{table} {added[table]:.2f}" for table, _ in TABLES)
            lines.append(f"bot rows: {name:30s} per POST: {cells}")
        calls = live.count("validate")
    lines.append(
        f"bot rows: {POSTS} cookieless POSTs per line; {calls} provider validate calls in all "
        "(one per distinct well-formed token, none for replays or missing tokens)"
    )
    return lines
