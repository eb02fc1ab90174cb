"""When the provider saw the check solved from another address than the request's."""

import pytest

from captchala_django.checkpoints import verify_and_record
from captchala_django.models import CheckpointEvent, EventKind
from tests.helpers import make_request, scope

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("captchala_sandbox")]


def kinds():
    return list(CheckpointEvent.objects.order_by("id").values_list("kind", flat=True))


def test_a_pass_solved_elsewhere_is_recorded_and_allowed_by_default(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token("login", user_ip="198.51.100.9")
    outcome = verify_and_record(make_request(), token, scope("farm"), "login")
    assert outcome.allowed
    record = CheckpointEvent.objects.get(kind=EventKind.CHECK)
    assert (record.provider_ip, record.decision) == ("198.51.100.9", "allow")


def test_a_pass_solved_elsewhere_is_denied_when_the_site_asks(captchala_sandbox, settings):
    settings.CAPTCHALA_DENY_IP_MISMATCH = True
    token = captchala_sandbox.mint_pass_token("login", user_ip="198.51.100.9")
    outcome = verify_and_record(make_request(), token, scope("farm"), "login")
    assert not outcome.allowed
    assert (outcome.failure_class, outcome.code) == ("validation", "ip_mismatch")


def test_the_same_address_written_two_ways_is_no_mismatch(captchala_sandbox):
    request = make_request(ip="2001:db8::1")
    token = captchala_sandbox.mint_pass_token("login", user_ip="2001:0db8:0:0::1")
    assert verify_and_record(request, token, scope("v6"), "login").allowed
    assert CheckpointEvent.objects.get(kind=EventKind.CHECK).provider_ip is None


def test_the_platform_the_provider_reports_is_stored(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token("login")
    assert verify_and_record(make_request(), token, scope("web"), "login").allowed
    assert CheckpointEvent.objects.get(kind=EventKind.CHECK).platform == "web"


def test_the_report_counts_ip_mismatches(captchala_sandbox):
    import json
    from io import StringIO

    from django.core.management import call_command

    for subject in ("a", "b"):
        token = captchala_sandbox.mint_pass_token("login", user_ip="198.51.100.9")
        verify_and_record(make_request(), token, scope(subject), "login")
    verify_and_record(make_request(), captchala_sandbox.mint_pass_token("login"), scope("c"))
    out = StringIO()
    call_command("captchala_report", "--json", stdout=out)
    assert json.loads(out.getvalue())["ip_mismatches"] == 2
    text = StringIO()
    call_command("captchala_report", stdout=text)
    assert "IP mismatches: 2" in text.getvalue()
