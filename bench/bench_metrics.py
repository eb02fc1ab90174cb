"""The cost of metrics and traces on the full check: verify_and_record with Prometheus
metrics, then with Prometheus and OpenTelemetry spans, against the same checks with
``CAPTCHALA_METRICS = False``.

Each check is a full one (fast-path miss, ledger claim, provider call to the zero-latency
sandbox, the write) on a scope of its own, in one process. The two sides run interleaved,
in rounds, so that each round's ratios compare checks made under the same load. Target: the
checks with metrics at 0.95x or more of those without (a cost under 5%). Spans go to the
OpenTelemetry SDK with no exporter: the SDK's own cost of four spans, which any traced site
pays for what it traces.
"""

from __future__ import annotations

import time

from django.test import override_settings

from bench.db import prepare
from captchala_django import observe
from captchala_django.sandbox.server import LiveSandbox

ROUNDS = 9
PER_ROUND = 300


SIDES = ("off", "prometheus", "both")


def _use(side: str) -> None:
    observe._backends = None
    found = observe.backends()
    if side == "prometheus":
        observe._backends = [b for b in found if repr(b) == "prometheus"]
    assert len(observe.backends()) == {"off": 0, "prometheus": 1, "both": 2}[side], side


def _rate(live: LiveSandbox, side: str, round_no: int) -> float:
    from captchala_django.checkpoints import verify_and_record
    from tests.helpers import make_request, scope

    tokens = [live.mint_pass_token() for _ in range(PER_ROUND)]
    requests = [make_request() for _ in tokens]
    with override_settings(CAPTCHALA_METRICS=side != "off"):
        _use(side)
        started = time.perf_counter()
        for n, (request, token) in enumerate(zip(requests, tokens, strict=True)):
            outcome = verify_and_record(
                request, token, scope(f"metrics-{side}-{round_no}-{n}"), fast_path=False
            )
            assert outcome.allowed, outcome
        elapsed = time.perf_counter() - started
    observe._backends = None
    return PER_ROUND / elapsed


def run() -> list[str]:
    try:
        import prometheus_client  # noqa: F401
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError:
        return ["metrics: skipped (needs prometheus-client and the OpenTelemetry SDK)"]
    trace.set_tracer_provider(TracerProvider())
    prepare()
    rates: dict[str, list[float]] = {side: [] for side in SIDES}
    with (
        LiveSandbox() as live,
        override_settings(
            CAPTCHALA_API_URL=live.url,
            CAPTCHALA_APP_KEY="sandbox-app-key",
            CAPTCHALA_APP_SECRET="sandbox-app-secret",
        ),
    ):
        for side in SIDES:  # warm each path once
            _rate(live, side, -1)
        for round_no in range(ROUNDS):
            for side in SIDES:
                rates[side].append(_rate(live, side, round_no))
    middle = ROUNDS // 2
    lines = [
        f"metrics: full checks, {side:<10} {sorted(rates[side])[middle]:8.0f} checks/s"
        for side in SIDES
    ]
    for side in ("prometheus", "both"):
        ratios = sorted(on / off for on, off in zip(rates[side], rates["off"], strict=True))
        lines.append(
            f"metrics: ratio {side} / off     {ratios[middle]:8.3f}x (median of {ROUNDS} "
            f"interleaved rounds of {PER_ROUND}, {ratios[0]:.3f}x to {ratios[-1]:.3f}x; "
            "target: 0.95x or above)"
        )
    return lines
