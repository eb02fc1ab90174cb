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

from contextvars import Token

from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span

tracer = trace.get_tracer("captchala_django")


class Traces:
    """The backend :mod:`captchala_django.observe` calls: spans, and events on them."""

    def decision(self, labels: dict[str, str]) -> None:
        pass  # the check's span carries its decision (see annotate)

    def start(self, name: str, attributes: dict[str, str]) -> tuple[Span, Token[Context]]:
        shown = {f"captchala.{k}": v for k, v in attributes.items()}
        span = tracer.start_span(f"captchala.{name}", attributes=shown)
        return span, context.attach(trace.set_span_in_context(span))

    def annotate(self, started: tuple[Span, Token[Context]], attributes: dict[str, str]) -> None:
        started[0].set_attributes({f"captchala.{k}": v for k, v in attributes.items()})

    def end(self, started: tuple[Span, Token[Context]]) -> None:
        span, token = started
        context.detach(token)
        span.end()

    def budget_refused(self, budget: str) -> None:
        span = trace.get_current_span()
        if span.is_recording():
            span.add_event("captchala.budget_refused", {"captchala.budget": budget})

    def step_up(self, needed: bool, reason: str) -> None:
        span = trace.get_current_span()
        if span.is_recording():
            attributes: dict[str, bool | str] = {
                "captchala.needed": needed,
                "captchala.reason": reason,
            }
            span.add_event("captchala.step_up", attributes)

    def in_flight(self, delta: int) -> None:
        pass

    def __repr__(self) -> str:
        return "opentelemetry"
