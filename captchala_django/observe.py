"""Metrics and traces of the checks: Prometheus and OpenTelemetry, when installed.

The check path calls the functions here; each hands its figures to the backends found
at first use: :mod:`captchala_django.contrib.prometheus` when ``prometheus-client`` is
installed, :mod:`captchala_django.contrib.opentelemetry` when ``opentelemetry-api`` is.
With neither (or ``CAPTCHALA_METRICS = False``) each call is one list test and nothing
else. A backend that raises never fails a check: it is logged once and turned off.

Figures carry no secret, token, session key or client address: a front door, a route, a
decision, an outcome code, a failure class, a phase and its duration.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from django.core.signals import setting_changed
from django.dispatch import receiver

from .conf import app_settings

logger = logging.getLogger("captchala_django.observe")

#: The timed phases of a check: the whole check, the provider call, the ledger claim and
#: the checkpoint write.
PHASES = ("check", "provider", "claim", "write")


class Backend(Protocol):
    """What a metrics or tracing backend takes."""

    def decision(self, labels: dict[str, str]) -> None: ...

    def start(self, name: str, attributes: dict[str, str]) -> Any:
        """A phase begins: what :meth:`end` and :meth:`annotate` are given back."""

    def annotate(self, started: Any, attributes: dict[str, str]) -> None:
        """Attributes of a phase that are known only once it ran (a check's decision)."""

    def end(self, started: Any) -> None: ...

    def budget_refused(self, budget: str) -> None: ...

    def step_up(self, needed: bool, reason: str) -> None: ...

    def in_flight(self, delta: int) -> None: ...


_backends: list[Backend] | None = None


def backends() -> list[Backend]:
    """The backends in use, found once per process (again after a settings change)."""
    global _backends
    if _backends is None:
        _backends = _find() if app_settings.METRICS else []
    return _backends


def _find() -> list[Backend]:
    found: list[Backend] = []
    for name, make in (("prometheus", "Metrics"), ("opentelemetry", "Traces")):
        try:
            module = importlib.import_module(f"captchala_django.contrib.{name}")
            found.append(getattr(module, make)())
        except ImportError:
            continue  # not installed: nothing to record with
        except Exception:  # installed but broken (say, PROMETHEUS_MULTIPROC_DIR missing)
            logger.exception("metrics backend %s could not start; left off in this process", name)
    return found


@receiver(setting_changed)
def _forget(*, setting: str, **kwargs: Any) -> None:
    global _backends
    if setting == "CAPTCHALA_METRICS":
        _backends = None


def _each(call: str, *args: Any) -> None:
    for backend in list(backends()):
        try:
            getattr(backend, call)(*args)
        except Exception:  # a figure is never worth a failed check
            _drop(backend)


def _drop(backend: Backend) -> None:
    logger.exception("metrics backend %s failed; turned off in this process", backend)
    if _backends is not None and backend in _backends:
        _backends.remove(backend)


def outcome_labels(outcome: Any) -> dict[str, str]:
    """The labels of an :class:`~captchala_django.checkpoints.Outcome`."""
    return {
        "decision": outcome.decision,
        "code": str(outcome.code),
        "failure_class": str(outcome.failure_class or ""),
    }


def route_label(request: Any) -> str:
    """The route as a metric shows it: the URL name, else the URL pattern, never the path
    (a path is the client's choice, and every new one would be a new series)."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.view_name:
        return str(match.view_name)[:200]
    if match is not None and getattr(match, "route", None):
        return str(match.route)[:200]
    return "unmatched"


def decision(door: str, route: str, outcome: Any) -> None:
    """One decision of a front door (``form``, ``serializer``, ``decorator``, ...)."""
    if backends():
        _each("decision", {"door": door, "route": route, **outcome_labels(outcome)})


class _Phase:
    """A timed, traced phase: ``with phase("write"): ...``. A plain class rather than a
    generator, since it runs four times a check."""

    __slots__ = ("name", "attributes", "started")

    def __init__(self, name: str, attributes: dict[str, str]) -> None:
        self.name, self.attributes = name, attributes
        self.started: list[tuple[Backend, Any]] = []

    def __enter__(self) -> _Phase:
        for backend in backends():
            try:
                self.started.append((backend, backend.start(self.name, self.attributes)))
            except Exception:
                _drop(backend)
        return self

    def set(self, **attributes: Any) -> None:
        """Attributes known once the phase ran; ``None`` values are left out."""
        if not self.started:
            return
        shown = {k: str(v) for k, v in attributes.items() if v is not None}
        for backend, started in self.started:
            try:
                backend.annotate(started, shown)
            except Exception:
                _drop(backend)

    def __exit__(self, *exc: object) -> None:
        for backend, started in reversed(self.started):
            try:
                backend.end(started)
            except Exception:
                _drop(backend)


def phase(name: str, **attributes: str) -> _Phase:
    """Time ``name`` (one of :data:`PHASES`) and trace it as a span."""
    return _Phase(name, attributes)


def budget_refused(budget: str) -> None:
    """A budget refused a request (``validate`` or ``server_token``)."""
    if backends():
        _each("budget_refused", budget)


def step_up(needed: bool, reason: str) -> None:
    """A step-up door counted an attempt: whether it needs the check, and why."""
    if backends():
        _each("step_up", needed, reason)


@contextmanager
def claim_in_flight() -> Iterator[None]:
    """A claim is held while the provider is asked. Given back to exactly the backends that
    counted it, even one dropped meanwhile: a gauge never stays up."""
    counted = []
    for backend in list(backends()):
        try:
            backend.in_flight(1)
            counted.append(backend)
        except Exception:
            _drop(backend)
    try:
        yield
    finally:
        for backend in counted:
            try:
                backend.in_flight(-1)
            except Exception:
                _drop(backend)
