"""Fast path of checkpoint_required: a view with a passed checkpoint vs the same view undecorated.

Requests per second through Django's test client (full middleware stack), both
views measured in interleaved rounds of one run.
"""

from __future__ import annotations

import time

from django.db import connection
from django.test import Client
from django.test.utils import override_settings

from bench.db import prepare
from captchala_django.sandbox.pytest_plugin import sandbox_settings
from captchala_django.sandbox.server import LiveSandbox

#: (name, undecorated URL, decorated URL): an empty view, a small page with one query
#: and a template, and a typical page that also reads ``request.user``.
PAIRS = [
    ("empty view", "/plain/", "/guarded-plain/"),
    ("small page", "/page/", "/guarded-page/"),
    ("typical page", "/typical-page/", "/guarded-typical-page/"),
]
ROUNDS = 6
PER_ROUND = 500


def _rate(client: Client, url: str) -> float:
    started = time.perf_counter()
    for _ in range(PER_ROUND):
        response = client.post(url)
        assert response.status_code == 200, response.status_code
    return PER_ROUND / (time.perf_counter() - started)


def run() -> list[str]:
    prepare()
    with (
        LiveSandbox() as live,
        override_settings(
            **sandbox_settings(live), SESSION_ENGINE="django.contrib.sessions.backends.cache"
        ),
    ):
        client = Client()
        lines = []
        for name, plain_url, guarded_url in PAIRS:
            token = live.mint_pass_token()
            assert client.post(guarded_url, {"captchala_token": token}).status_code == 200
            plain, guarded = [], []
            _rate(client, plain_url)
            _rate(client, guarded_url)
            for _ in range(ROUNDS):
                plain.append(_rate(client, plain_url))
                guarded.append(_rate(client, guarded_url))
            plain_rate = sorted(plain)[len(plain) // 2]
            guarded_rate = sorted(guarded)[len(guarded) // 2]
            lines += [
                f"decorator: {name}, undecorated           {plain_rate:8.0f} requests/s",
                f"decorator: {name}, checkpoint_required   {guarded_rate:8.0f} requests/s",
                f"decorator: {name}, ratio                 {plain_rate / guarded_rate:8.2f}x",
            ]
        calls = live.count("validate")
    return [
        *lines,
        f"decorator: {connection.vendor}, medians of {ROUNDS} interleaved rounds of "
        f"{PER_ROUND}; {calls} provider calls in all (the passes before timing); "
        "target: within 1.2x",
    ]
