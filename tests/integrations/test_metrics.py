"""Metrics and traces of the checks, with the real prometheus-client and OpenTelemetry SDK:
every front door's decisions counted once with their labels, the phases timed, the spans a
tree with nothing secret in them, a failing backend never failing a check, and nothing
recorded when ``CAPTCHALA_METRICS`` is off. The multiprocess counts under real gunicorn
workers are in ``test_metrics_gunicorn.py``."""

import threading

import pytest
from django.test import Client, override_settings

prometheus_client = pytest.importorskip("prometheus_client")
trace_sdk = pytest.importorskip("opentelemetry.sdk.trace")

from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from prometheus_client import REGISTRY  # noqa: E402

from captchala_django import observe  # noqa: E402

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]
ADDRESS = "203.0.113.40"


def decisions(**labels) -> float:
    """The decisions counted with these labels (any value for the others)."""
    total = 0.0
    for metric in REGISTRY.collect():
        if metric.name != "captchala_decisions":
            continue
        for sample in metric.samples:
            if sample.name.endswith("_total") and all(
                sample.labels.get(k) == v for k, v in labels.items()
            ):
                total += sample.value
    return total


def phase_count(phase: str) -> float:
    return REGISTRY.get_sample_value("captchala_phase_seconds_count", {"phase": phase}) or 0.0


@pytest.fixture(scope="module")
def spans():
    """The SDK's spans, in memory (the global provider can be set once per process)."""
    exporter = InMemorySpanExporter()
    provider = trace_sdk.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


@pytest.fixture(autouse=True)
def fresh_backends(spans):
    observe._backends = None  # found again, after the provider is set
    spans.clear()
    yield
    observe._backends = None


def post(path, data=None, **extra):
    return Client(REMOTE_ADDR=ADDRESS).post(path, data or {}, REMOTE_ADDR=ADDRESS, **extra)


def test_each_front_door_counts_its_decisions_once_with_their_labels(captchala_sandbox):
    before = {
        "missing": decisions(door="decorator", route="transfer", code="missing_token"),
        "ok": decisions(door="decorator", route="transfer", decision="allow", code="ok"),
        "form": decisions(door="form", route="login", decision="deny"),
        "drf": decisions(door="drf", route="api-transfer", decision="deny"),
    }
    client = Client(REMOTE_ADDR=ADDRESS)
    assert client.post("/transfer/", {}).status_code == 403
    token = captchala_sandbox.mint_pass_token()
    assert client.post("/transfer/", {"captchala_token": token}).status_code == 200
    assert client.post("/transfer/", {}).status_code == 200  # rides the checkpoint
    form = {"username": "a", "password": "b", "captchala_token": "pt_made-up-token"}
    assert post("/login/", form).status_code == 200
    headers = {"HTTP_X_CAPTCHALA_TOKEN": "pt_another-made-up-one"}
    assert post("/api/transfer/", content_type="application/json", **headers).status_code == 403
    assert decisions(door="decorator", route="transfer", code="missing_token") == (
        before["missing"] + 1
    )
    assert decisions(door="decorator", route="transfer", decision="allow", code="ok") == (
        before["ok"] + 1
    )
    assert decisions(door="decorator", route="transfer", code="checkpoint_passed") >= 1
    assert decisions(door="form", route="login", decision="deny") == before["form"] + 1
    assert decisions(door="drf", route="api-transfer", decision="deny") == before["drf"] + 1


def test_a_full_check_times_each_phase_once_and_the_fast_path_asks_no_provider(
    captchala_sandbox,
):
    counts = {p: phase_count(p) for p in observe.PHASES}
    client = Client(REMOTE_ADDR=ADDRESS)
    token = captchala_sandbox.mint_pass_token()
    assert client.post("/transfer/", {"captchala_token": token}).status_code == 200
    assert {p: phase_count(p) - counts[p] for p in observe.PHASES} == {
        "check": 1,
        "provider": 1,
        "claim": 1,
        "write": 1,
    }
    assert client.post("/transfer/", {}).status_code == 200  # the checkpoint answers
    assert phase_count("provider") - counts["provider"] == 1


def test_the_spans_are_one_tree_per_check_with_nothing_secret(captchala_sandbox, spans):
    client = Client(REMOTE_ADDR=ADDRESS)
    token = captchala_sandbox.mint_pass_token()
    assert client.post("/transfer/", {"captchala_token": token}).status_code == 200
    found = {span.name: span for span in spans.get_finished_spans()}
    check = found["captchala.check"]
    for child in ("captchala.claim", "captchala.provider", "captchala.write"):
        assert found[child].parent.span_id == check.context.span_id, child
    attributes = dict(check.attributes)
    assert attributes["captchala.door"] == "decorator"
    assert attributes["captchala.route"] == "transfer"
    assert attributes["captchala.decision"] == "allow"
    assert attributes["captchala.code"] == "ok"
    session_key = client.session.session_key
    secret = "sandbox-app-secret"
    every_value = [
        str(v) for span in spans.get_finished_spans() for v in (span.attributes or {}).values()
    ]
    for value in every_value:
        assert token not in value and secret not in value and ADDRESS not in value
        assert not session_key or session_key not in value


def test_budget_refusals_and_step_up_decisions_are_counted(captchala_sandbox, settings):
    settings.CAPTCHALA_VALIDATE_BUDGET = 1
    refused = (
        REGISTRY.get_sample_value("captchala_budget_refusals_total", {"budget": "validate"}) or 0.0
    )
    for n in range(3):
        post("/transfer/", {"captchala_token": f"pt_made-up-{n}"})
    assert (
        REGISTRY.get_sample_value("captchala_budget_refusals_total", {"budget": "validate"})
        == refused + 2
    )
    labels = {"needed": "false", "reason": "below"}
    below = REGISTRY.get_sample_value("captchala_step_up_total", labels) or 0.0
    post("/login-step-up/", {"username": "someone", "password": "x"})
    assert REGISTRY.get_sample_value("captchala_step_up_total", labels) == below + 1


@pytest.mark.django_db(transaction=True)
def test_the_claims_in_flight_gauge_rises_during_the_call_and_returns(captchala_sandbox):
    captchala_sandbox.set_fault("none", latency_ms=1500)
    token = captchala_sandbox.mint_pass_token()
    done = threading.Event()

    def check():
        post("/transfer/", {"captchala_token": token})
        done.set()

    worker = threading.Thread(target=check)
    gauge = "captchala_claims_in_flight"
    worker.start()
    seen = 0.0
    while not done.wait(0.01) and seen < 1:  # bounded by the call: latency, then done
        seen = REGISTRY.get_sample_value(gauge) or 0.0
    worker.join(30)
    assert seen == 1
    assert REGISTRY.get_sample_value(gauge) == 0


def test_a_failing_backend_never_fails_a_check(captchala_sandbox, monkeypatch, caplog):
    from captchala_django.contrib import prometheus

    def broken(self, labels):
        raise RuntimeError("the metrics store is full")

    monkeypatch.setattr(prometheus.Metrics, "decision", broken)
    client = Client(REMOTE_ADDR=ADDRESS)
    token = captchala_sandbox.mint_pass_token()
    assert client.post("/transfer/", {"captchala_token": token}).status_code == 200
    assert "prometheus" not in [repr(b) for b in observe.backends()]
    assert any("turned off in this process" in r.getMessage() for r in caplog.records)
    assert client.post("/transfer/", {}).status_code == 200  # the pass it made holds


def test_nothing_is_recorded_when_metrics_are_off(captchala_sandbox, spans):
    with override_settings(CAPTCHALA_METRICS=False):
        before = decisions(route="transfer")
        post("/transfer/", {"captchala_token": captchala_sandbox.mint_pass_token()})
        assert decisions(route="transfer") == before
        assert spans.get_finished_spans() == ()
        assert observe.backends() == []


def test_a_path_the_client_chooses_is_never_a_label(captchala_sandbox, settings):
    """Unmatched paths all count as one route: a bot cannot mint a series per path."""
    from captchala_django.observe import route_label
    from tests.helpers import make_request

    assert route_label(make_request(path="/a/b/c-made-up-123/")) == "unmatched"
