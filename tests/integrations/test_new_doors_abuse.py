"""The metrics and consent tried as an attacker would, with the optional packages installed:
a backend that cannot start or fails mid-claim never fails a check nor leaves a gauge up,
the example project's metrics are not served to the public, and a Wagtail form page fetches
nothing of CaptchaLa's before consent."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.test import Client

pytest.importorskip("prometheus_client")
from prometheus_client import REGISTRY  # noqa: E402

from captchala_django import observe  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ADDRESS = "203.0.113.41"


@pytest.fixture(autouse=True)
def fresh_backends():
    observe._backends = None
    yield
    observe._backends = None


@pytest.mark.django_db
@pytest.mark.urls("tests.urls")
def test_the_in_flight_gauge_returns_to_zero_when_a_backend_is_dropped_mid_claim(
    captchala_sandbox, monkeypatch
):
    """A backend error while a claim is held (here: the provider phase's timing; in
    production any request's metric call failing, e.g. a full PROMETHEUS_MULTIPROC_DIR)
    drops the backend between the gauge's +1 and its -1: the -1 is never sent, and the
    registry (still served by metrics_view) reports a claim in flight for ever."""
    from captchala_django.contrib import prometheus

    gauge = "captchala_claims_in_flight"
    before = REGISTRY.get_sample_value(gauge) or 0.0
    end = prometheus.Metrics.end

    def failing_end(self, started):
        if started[0] == "provider":
            raise OSError("No space left on device")
        return end(self, started)

    monkeypatch.setattr(prometheus.Metrics, "end", failing_end)
    token = captchala_sandbox.mint_pass_token()
    try:
        answer = Client(REMOTE_ADDR=ADDRESS).post("/transfer/", {"captchala_token": token})
        after = REGISTRY.get_sample_value(gauge) or 0.0
    finally:
        prometheus.CLAIMS_IN_FLIGHT.set(before)  # leave the process's registry as found
    assert answer.status_code == 200  # the check itself holds
    assert after == before, f"gauge stuck at {after} (was {before})"


def test_a_backend_that_cannot_start_never_fails_a_check(tmp_path):
    """observe's promise: "A backend that raises never fails a check". PROMETHEUS_MULTIPROC_DIR
    naming a directory that is not there (a tmpfs wiped at reboot, a typo) makes the import of
    contrib.prometheus raise FileNotFoundError (then ValueError "Duplicated timeseries" on
    each later try); observe._find() catches only ImportError, so every guarded request is a
    500 instead of a check without metrics."""
    script = textwrap.dedent(
        """
        import django, os
        django.setup()
        from django.test.utils import setup_test_environment
        setup_test_environment()  # ALLOWED_HOSTS takes "testserver", as under pytest
        from django.core.management import call_command
        call_command("migrate", verbosity=0)
        from django.test import Client
        c = Client(raise_request_exception=False)
        codes = [c.post("/transfer/", {"captchala_token": "pt_made-up"}).status_code
                 for _ in range(2)]
        print("STATUS", codes)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAPTCHALA_", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        CAPTCHALA_TEST_DB="sqlite",
        CAPTCHALA_TEST_TMP=str(tmp_path),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "not-there"),
        PYTHONPATH=str(ROOT),
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert "STATUS" in run.stdout, run.stderr[-3000:]
    codes = run.stdout.split("STATUS", 1)[1].strip()
    assert "500" not in codes, f"every check is a 500: {codes}\n{run.stderr[-1500:]}"


def test_the_example_projects_metrics_are_not_served_to_anyone_in_production(tmp_path):
    """With DEBUG off, the example project's /metrics/ would tell any client the decision
    counts per route and code, the step-up reasons and the budget refusals: a live oracle of
    whether its tokens pass. It is mounted in development only (or DEMO_METRICS)."""
    script = textwrap.dedent(
        """
        import django
        django.setup()
        from django.test import Client
        r = Client().get("/metrics/", HTTP_HOST="127.0.0.1", REMOTE_ADDR="198.51.100.66")
        print("STATUS", r.status_code, b"captchala_decisions" in r.content)
        """
    )
    from tests.integrations.test_metrics_gunicorn import environment

    env = environment(tmp_path, "http://127.0.0.1:9")  # as the gunicorn test's, but:
    del env["DEMO_METRICS"], env["PROMETHEUS_MULTIPROC_DIR"]  # a production site's
    run = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT / "example_project",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "STATUS" in run.stdout, run.stderr[-3000:]
    assert "STATUS 200" not in run.stdout, run.stdout


@pytest.mark.django_db
def test_a_wagtail_form_page_fetches_no_loader_before_consent(settings, captchala_sandbox):
    """The suite's own Wagtail contact page prints {{ form.media }} in <head> (as Wagtail's
    docs show): with CAPTCHALA_CONSENT the widget's tag is inert, but the media's is live."""
    from wagtail.models import Page, Site

    from tests.integrations.wagtail_site.models import ContactFormField, ContactPage

    settings.CAPTCHALA_CONSENT = True
    page = ContactPage(
        title="Contact",
        slug="contact",
        to_address="t@example.com",
        from_address="s@example.com",
        subject="x",
        thank_you_text="t",
    )
    Page.get_first_root_node().add_child(instance=page)
    Site.objects.all().delete()
    Site.objects.create(hostname="testserver", root_page=page, is_default_site=True)
    ContactFormField.objects.create(page=page, sort_order=0, label="Name", field_type="singleline")
    html = Client().get("/").content.decode()
    assert "data-captchala-loader" in html  # consent is asked for...
    assert f'<script src="{settings.CAPTCHALA_LOADER_URL}"' not in html, "...yet the loader is live"
