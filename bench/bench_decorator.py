"""Fast path of checkpoint_required: a view with a passed checkpoint vs the same view undecorated.

Requests per second through Django's test client (full middleware stack), the views
measured in interleaved rounds of one run. On the typical page a third view, guarded by
hand with the least the guarantees need (``bench/least_guard.py``), is the floor.
"""

from __future__ import annotations

import time

from django.db import connection
from django.test import Client
from django.test.utils import override_settings

from bench.db import prepare
from captchala_django.sandbox.server import LiveSandbox, sandbox_settings

#: (name, undecorated URL, decorated URL, hand-guarded URL): an empty view, a small page
#: with one query and a template, and a typical page that also reads ``request.user``.
PAIRS = [
    ("empty view", "/plain/", "/guarded-plain/", None),
    ("small page", "/page/", "/guarded-page/", None),
    ("typical page", "/typical-page/", "/guarded-typical-page/", "/least-guarded-typical-page/"),
]
ROUNDS = 6
PER_ROUND = 500


def _rate(client: Client, url: str) -> float:
    started = time.perf_counter()
    for _ in range(PER_ROUND):
        response = client.post(url)
        assert response.status_code == 200, response.status_code
    return PER_ROUND / (time.perf_counter() - started)


def _compare(client: Client, name: str, urls: list[str]) -> list[str]:
    """Interleaved rounds of each URL; its median rate, and the ratios to the first."""
    rates: list[list[float]] = [[] for _ in urls]
    for url in urls:
        _rate(client, url)  # warm
    for _ in range(ROUNDS):
        for url, got in zip(urls, rates, strict=True):
            got.append(_rate(client, url))
    medians = [sorted(got)[len(got) // 2] for got in rates]
    labels = ["undecorated", "checkpoint_required", "least guard (by hand)"]
    lines = [
        f"decorator: {name}, {label:<22} {rate:8.0f} requests/s"
        for label, rate in zip(labels, medians, strict=False)
    ]
    lines.append(f"decorator: {name}, ratio                 {medians[0] / medians[1]:8.2f}x")
    if len(medians) == 3:
        lines.append(
            f"decorator: {name}, ratio to the least    {medians[2] / medians[1]:8.2f}x "
            f"(undecorated / least guard {medians[0] / medians[2]:.2f}x)"
        )
    return lines


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
        for name, *urls in PAIRS:
            token = live.mint_pass_token()
            assert client.post(urls[1], {"captchala_token": token}).status_code == 200
            lines += _compare(client, name, [url for url in urls if url])
        calls = live.count("validate")
    return [
        *lines,
        f"decorator: {connection.vendor}, medians of {ROUNDS} interleaved rounds of "
        f"{PER_ROUND}; {calls} provider calls in all (the passes before timing); "
        "target: within 1.2x",
    ]
