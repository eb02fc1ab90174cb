"""Prometheus metrics of the checks (``pip install "captchala-django[prometheus]"``).

Found by :mod:`captchala_django.observe` when ``prometheus-client`` is installed; the
metrics live in the client library's default registry, so django-prometheus (or any
exporter of that registry) serves them too. Under several worker processes (gunicorn),
set ``PROMETHEUS_MULTIPROC_DIR`` for every worker, as the client library asks, and serve
:func:`metrics_view`: it merges the workers' files. In gunicorn's config::

    from captchala_django.contrib.prometheus import child_exit  # noqa: F401

Names follow the client library's conventions (``_total``, ``_seconds``):

- ``captchala_decisions_total{door, route, decision, code, failure_class}``
- ``captchala_budget_refusals_total{budget}`` (``validate``, ``server_token``)
- ``captchala_step_up_total{needed, reason}``
- ``captchala_phase_seconds{phase}`` (``check``, ``provider``, ``claim``, ``write``)
- ``captchala_claims_in_flight`` (a gauge, summed over live workers)
"""

from __future__ import annotations

import os
import time
from typing import Any

from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

#: From 1 ms (a write on a warm connection) to 10 s (a provider call at its timeout).
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

DECISIONS = Counter(
    "captchala_decisions",
    "Decisions of the bot check, by front door, route, decision, outcome code and class.",
    ["door", "route", "decision", "code", "failure_class"],
)
BUDGET_REFUSALS = Counter(
    "captchala_budget_refusals",
    "Requests refused by a budget of provider calls, before any call.",
    ["budget"],
)
STEP_UP = Counter(
    "captchala_step_up",
    "Attempts counted by a step-up front door: whether they needed the check, and why.",
    ["needed", "reason"],
)
PHASE_SECONDS = Histogram(
    "captchala_phase_seconds",
    "Duration of a check and of its provider call, ledger claim and checkpoint write.",
    ["phase"],
    buckets=BUCKETS,
)
CLAIMS_IN_FLIGHT = Gauge(
    "captchala_claims_in_flight",
    "Tokens claimed whose provider call has not returned yet.",
    multiprocess_mode="livesum",
)


#: The histogram's child per phase, looked up once (``labels()`` takes a lock each call).
_PHASES: dict[str, Any] = {}


class Metrics:
    """The backend :mod:`captchala_django.observe` calls."""

    def decision(self, labels: dict[str, str]) -> None:
        DECISIONS.labels(
            labels["door"],
            labels["route"],
            labels["decision"],
            labels["code"],
            labels["failure_class"],
        ).inc()

    def start(self, name: str, attributes: dict[str, str]) -> tuple[str, float]:
        return name, time.perf_counter()

    def annotate(self, started: tuple[str, float], attributes: dict[str, str]) -> None:
        pass

    def end(self, started: tuple[str, float]) -> None:
        name, began = started
        child = _PHASES.get(name)
        if child is None:
            child = _PHASES[name] = PHASE_SECONDS.labels(name)
        child.observe(time.perf_counter() - began)

    def budget_refused(self, budget: str) -> None:
        BUDGET_REFUSALS.labels(budget).inc()

    def step_up(self, needed: bool, reason: str) -> None:
        STEP_UP.labels(str(needed).lower(), reason).inc()

    def in_flight(self, delta: int) -> None:
        CLAIMS_IN_FLIGHT.inc(delta)

    def __repr__(self) -> str:
        return "prometheus"


def registry() -> CollectorRegistry:
    """The registry to serve: the workers' files merged under ``PROMETHEUS_MULTIPROC_DIR``,
    else this process's default registry."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged)
    return merged


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The metrics in Prometheus' text format. Route it where only your scraper reaches
    it (an internal port, or a check of your own in front): it names routes and counts."""
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn's hook: a worker that exited leaves the live gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
