"""What the soak's metrics endpoint counted (prometheus-client's multiprocess mode, every
gunicorn and uvicorn worker merged): printed beside the figures the database gives, since
the database cannot count its own outage."""

from __future__ import annotations

import re
from collections import Counter

import requests

_SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>[0-9.e+-]+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def scrape(url: str) -> list[tuple[str, dict[str, str], float]]:
    """The samples of ``url`` (``/metrics/``), as (name, labels, value)."""
    text = requests.get(url, timeout=30).text
    samples = []
    for line in text.splitlines():
        found = _SAMPLE.match(line)
        if found:
            labels = dict(_LABEL.findall(found["labels"] or ""))
            samples.append((found["name"], labels, float(found["value"])))
    return samples


def quantile(samples: list, phase: str, q: float) -> float | None:
    """The ``q`` quantile of a phase's histogram, read from its buckets (upper bound)."""
    buckets = sorted(
        (float("inf") if labels["le"] == "+Inf" else float(labels["le"]), value)
        for name, labels, value in samples
        if name == "captchala_phase_seconds_bucket" and labels.get("phase") == phase
    )
    if not buckets or buckets[-1][1] == 0:
        return None
    target = q * buckets[-1][1]
    return next(le for le, count in buckets if count >= target)


def figures(url: str) -> list[str]:
    """One line of decisions by class, one of phases, one of budgets and step-up."""
    samples = scrape(url)
    by_class: Counter[str] = Counter()
    for name, labels, value in samples:
        if name == "captchala_decisions_total":
            by_class[labels.get("failure_class") or "passed"] += int(value)
    refused = {
        labels["budget"]: int(value)
        for name, labels, value in samples
        if name == "captchala_budget_refusals_total"
    }
    phases = []
    for phase in ("check", "provider", "claim", "write"):
        p95, p99 = quantile(samples, phase, 0.95), quantile(samples, phase, 0.99)
        if p95 is not None:
            phases.append(f"{phase} p95 <= {p95 * 1000:g} ms, p99 <= {p99 * 1000:g} ms")
    return [
        "metrics: decisions by class: "
        + ", ".join(f"{k} {v}" for k, v in sorted(by_class.items()))
        + f" (persistence failures: {by_class.get('persistence', 0)})",
        "metrics: " + "; ".join(phases),
        "metrics: budget refusals: "
        + (", ".join(f"{k} {v}" for k, v in refused.items()) or "none"),
    ]
