"""Validations per second: the pooled client vs a new connection per call.

Peer apps call ``requests.post`` for every check, which opens (and closes) a
TCP connection each time; the client keeps one alive.
"""

from __future__ import annotations

import time

import requests

from captchala_django.client import CaptchaLaClient, reset_session
from captchala_django.conf import SANDBOX_APP_KEY, SANDBOX_APP_SECRET
from captchala_django.sandbox.server import LiveSandbox

CALLS = 2000


def _rate(fn, tokens) -> float:
    started = time.perf_counter()
    for token in tokens:
        fn(token)
    return len(tokens) / (time.perf_counter() - started)


def run() -> list[str]:
    with LiveSandbox() as live:
        reset_session()
        client = CaptchaLaClient(
            app_key=SANDBOX_APP_KEY, app_secret=SANDBOX_APP_SECRET, api_url=live.url
        )
        headers = {"X-App-Key": SANDBOX_APP_KEY, "X-App-Secret": SANDBOX_APP_SECRET}

        def fresh_connection(token):
            reply = requests.post(
                live.url + "/v1/validate",
                json={"pass_token": token, "keep_token": False},
                headers=headers,
                timeout=3,
            )
            assert reply.json()["data"]["valid"] is True

        def pooled(token):
            assert client.validate(token).valid

        # Warm up both paths, then alternate twice to even out drift.
        _rate(pooled, [live.mint_pass_token() for _ in range(100)])
        _rate(fresh_connection, [live.mint_pass_token() for _ in range(100)])
        before = live.count("connections")
        pooled_rates, fresh_rates = [], []
        for _ in range(2):
            pooled_rates.append(_rate(pooled, [live.mint_pass_token() for _ in range(CALLS)]))
            fresh_rates.append(
                _rate(fresh_connection, [live.mint_pass_token() for _ in range(CALLS)])
            )
        connections = live.count("connections") - before
    pooled_rate = sum(pooled_rates) / 2
    fresh_rate = sum(fresh_rates) / 2
    return [
        f"client: pooled keep-alive        {pooled_rate:8.0f} validations/s",
        f"client: new connection per call  {fresh_rate:8.0f} validations/s",
        f"client: ratio pooled / new       {pooled_rate / fresh_rate:8.2f}x "
        f"({4 * CALLS} calls, {connections} TCP connections opened)",
    ]
