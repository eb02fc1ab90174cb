"""OpenTelemetry spans of the checks (``pip install "captchala-django[opentelemetry]"``).

Found by :mod:`captchala_django.observe` when ``opentelemetry-api`` is installed. One span
``captchala.check`` per check, with its provider call (``captchala.provider``), its ledger
claim (``captchala.claim``) and its checkpoint write (``captchala.write``) as children;
they join the request's trace when the site instruments Django. Without an SDK
configured by the site, the API's spans are no-ops.

Attributes (``captchala.*``): ``door``, ``route``, ``action``, ``scope_kind``,
``decision``, ``code``, ``failure_class``. Never a token, a secret, a session key or a
client address.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace

tracer = trace.get_tracer("captchala_django")


class _Span:
    def __init__(self, span: Any) -> None:
        self.span = span

    def set(self, **attributes: str) -> None:
        for key, value in attributes.items():
            self.span.set_attribute(f"captchala.{key}", value)


class Traces:
    """The backend :mod:`captchala_django.observe` calls: spans only, no counts."""

    def decision(self, labels: dict[str, str]) -> None:
        span = trace.get_current_span()
        if span.is_recording():
            span.add_event("captchala.decision", {f"captchala.{k}": v for k, v in labels.items()})

    @contextmanager
    def phase(self, name: str, attributes: dict[str, str]) -> Iterator[_Span]:
        shown = {f"captchala.{k}": v for k, v in attributes.items()}
        with tracer.start_as_current_span(f"captchala.{name}", attributes=shown) as span:
            yield _Span(span)

    def budget_refused(self, budget: str) -> None:
        span = trace.get_current_span()
        if span.is_recording():
            span.add_event("captchala.budget_refused", {"captchala.budget": budget})

    def step_up(self, needed: bool, reason: str) -> None:
        span = trace.get_current_span()
        if span.is_recording():
            attributes = {"captchala.needed": needed, "captchala.reason": reason}
            span.add_event("captchala.step_up", attributes)

    def in_flight(self, delta: int) -> None:
        pass

    def __repr__(self) -> str:
        return "opentelemetry"
