"""``captchala_report``: breakdowns (``--by``) and the verdict, from real checks.

Every check here goes through ``verify_and_record`` (or a real POST to a guarded view)
against the live sandbox; rows are only backdated to make the previous days' baseline.
"""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from captchala_django.checkpoints import verify_and_record
from captchala_django.insights import verdict as rule
from captchala_django.models import CheckpointEvent
from captchala_django.scopes import Scope
from tests.helpers import make_request

pytestmark = pytest.mark.django_db

LABELS = {
    "integration": "likely an integration problem",
    "attack": "likely an attack",
    "none": "nothing unusual",
}


def run(*args):
    out = StringIO()
    call_command("captchala_report", *args, stdout=out)
    return out.getvalue()


def verdict(*args):
    """The verdict of ``--json``, checked against the text output's last line."""
    found = json.loads(run("--json", *args))["verdict"]
    last = run(*args).rstrip("\n").splitlines()[-1]
    assert last == f"verdict: {found['verdict']}: {found['evidence']}"
    assert found["verdict"] == LABELS[found["kind"]]
    return found


def request(ip):
    return make_request(ip)


_count = iter(range(10**6))


def bot(ip, route="login"):
    """A bot with a made-up token, scoped by its address (one checkpoint per address)."""
    token = f"pt_made_up_{next(_count):06d}_token"
    return verify_and_record(request(ip), token, Scope("ip", ip, route))


def person(sandbox, ip, route="login", action=None, check_action=None):
    """Someone who solved the check (for ``action``), checked for ``check_action``."""
    token = sandbox.mint_pass_token(action)
    subject = f"person-{next(_count)}"
    return verify_and_record(
        request(ip), token, Scope("session", subject, route), action=check_action
    )


# ------------------------------------------------------------------ nothing unusual


def test_a_quiet_site_says_nothing_unusual(captchala_sandbox):
    for i in range(5):
        person(captchala_sandbox, f"198.51.100.{i}")
        bot("203.0.113.9")
    found = verdict()
    assert found["kind"] == "none"
    assert found["evidence"] == "5 failures in the window (fewer than 20)."


# ------------------------------------------------------------------ integration


@pytest.mark.parametrize("cause", ["configuration", "provider"])
def test_our_keys_or_the_provider_failing_is_an_integration_problem(
    captchala_sandbox, settings, cause
):
    for _ in range(4):
        bot("203.0.113.9")
    if cause == "configuration":
        settings.CAPTCHALA_APP_SECRET = "a-wrong-secret-for-this-app"
    else:
        captchala_sandbox.set_fault("error")
    for i in range(rule.MIN_FAILURES):
        outcome = person(captchala_sandbox, f"198.51.100.{i}")
        assert outcome.failure_class == cause
    found = verdict()
    assert found["kind"] == "integration"
    assert found["evidence"] == (
        f"20 of 24 failures (83%) are configuration, provider or database errors ({cause} 20)."
    )


def test_action_mismatches_from_many_addresses_are_an_integration_problem(captchala_sandbox):
    # The page renders its check for "login"; the view checks for "checkout".
    for i in range(rule.MISMATCH_ADDRESSES):
        outcome = person(
            captchala_sandbox, f"198.51.100.{i}", action="login", check_action="checkout"
        )
        assert outcome.code == "token_action_mismatch"
    found = verdict()
    assert found["kind"] == "integration"
    assert found["evidence"] == "10 action or IP mismatches came from 10 different addresses."


def test_action_mismatches_from_one_address_are_not(captchala_sandbox):
    for _ in range(rule.MISMATCH_ADDRESSES):
        person(captchala_sandbox, "203.0.113.50", action="login", check_action="checkout")
    assert verdict()["kind"] == "none"


def test_ip_mismatches_behind_an_untrusted_proxy_are_an_integration_problem(captchala_sandbox):
    # Every request comes from the proxy's address; the provider saw each client's own.
    for i in range(rule.MISMATCH_ADDRESSES):
        token = captchala_sandbox.mint_pass_token("login", user_ip=f"192.0.2.{i}")
        subject = Scope("session", f"behind-proxy-{i}", "login")
        assert verify_and_record(request("10.0.0.1"), token, subject, "login").allowed
    assert CheckpointEvent.objects.filter(provider_ip__startswith="192.0.2.").count() == 10
    found = verdict()
    assert found["kind"] == "integration"
    assert found["evidence"] == "10 action or IP mismatches came from 10 different addresses."


def test_passes_from_a_solver_farm_are_an_attack(captchala_sandbox, settings):
    # Bots from many addresses post passes that one machine solved: one address behind
    # all the mismatches, and denied ones count as the validation failures they are.
    settings.CAPTCHALA_DENY_IP_MISMATCH = True
    for i in range(rule.MIN_FAILURES + 5):
        token = captchala_sandbox.mint_pass_token("login", user_ip="198.18.0.1")
        ip = f"203.0.113.{i}"
        outcome = verify_and_record(request(ip), token, Scope("ip", ip, "login"), "login")
        assert outcome.code == "ip_mismatch"
    for i in range(3):
        person(captchala_sandbox, f"198.51.100.{i}", action="login", check_action="login")
    found = verdict()
    assert found["kind"] == "attack"
    assert found["evidence"] == "25 of 28 checks on login (89%) failed as validation or replay."


# ------------------------------------------------------------------ attack


def test_bad_tokens_from_a_few_addresses_are_an_attack(captchala_sandbox):
    for i in range(10):
        person(captchala_sandbox, f"198.51.100.{i}")
    attackers = ["203.0.113.5", "203.0.113.6", "203.0.113.7"]
    for i in range(25):
        bot(attackers[i % 3])
    found = verdict()
    assert found["kind"] == "attack"
    assert found["evidence"] == (
        "100% of 25 validation and replay failures came from 3 addresses "
        "(203.0.113.5, 203.0.113.6, 203.0.113.7)."
    )


def test_a_route_whose_checks_nearly_all_fail_is_an_attack(captchala_sandbox):
    # Cookieless bots POST made-up tokens to a guarded view, each from its own address:
    # they share the route's anonymous checkpoint, so no address stands out.
    for i in range(rule.MIN_FAILURES + 2):
        response = Client().post(
            "/transfer/",
            {"captchala_token": f"pt_made_up_{i:04d}_token", "amount": "1"},
            REMOTE_ADDR=f"192.0.2.{i}",
        )
        assert response.status_code in (400, 403)
    person(captchala_sandbox, "198.51.100.1", route="transfer")
    found = verdict()
    assert found["kind"] == "attack"
    assert found["evidence"] == (
        "22 of 23 checks on transfer (96%) failed as validation or replay."
    )
    ips = json.loads(run("--json", "--by", "ip"))["breakdown"]
    assert {"ip": None, "count": 22, "allow": 0, "deny": 22, "degrade": 0, "failures": 22} in ips


def traffic(sandbox, failures):
    """``failures`` bad tokens spread over 12 addresses and two routes, with people passing
    on both: nothing concentrated."""
    for i in range(failures):
        bot(f"198.51.100.{i % 12}", route=("login", "signup")[i % 2])
        if i % 2:
            person(sandbox, f"198.51.100.{100 + i}", route=("login", "signup")[i % 4 // 2])


def backdate(days):
    CheckpointEvent.objects.update(created_at=timezone.now() - timedelta(days=days))


def test_a_surge_over_the_previous_days_is_an_attack(captchala_sandbox):
    traffic(captchala_sandbox, 7)  # a week's usual failures: one a day
    backdate(3)
    traffic(captchala_sandbox, 24)
    found = verdict()
    assert found["kind"] == "attack"
    assert found["evidence"] == "24 failures a day against 1.0 a day over the previous 7 days."


def test_the_same_failures_at_the_usual_rate_are_nothing_unusual(captchala_sandbox):
    traffic(captchala_sandbox, 70)  # ten a day
    backdate(3)
    traffic(captchala_sandbox, 24)
    found = verdict()
    assert found["kind"] == "none"
    assert found["evidence"] == (
        "24 failures, none concentrated on a few addresses or routes, and no surge over the "
        "previous days."
    )


def test_older_failures_are_outside_the_window(captchala_sandbox):
    for i in range(25):
        bot(f"203.0.113.{i % 3}")
    backdate(2)
    assert verdict("--since", "1d")["kind"] == "none"
    assert verdict("--since", "3d")["kind"] == "attack"


# ------------------------------------------------------------------ --by


@pytest.fixture
def mixed(captchala_sandbox):
    person(captchala_sandbox, "198.51.100.1", route="login")
    bot("198.51.100.2", route="login")
    bot("198.51.100.2", route="login")
    bot("198.51.100.2", route="signup")
    person(captchala_sandbox, "198.51.100.3", route="signup")


def by(name, *args):
    data = json.loads(run("--json", "--by", name, *args))
    assert data["by"] == name
    return data["breakdown"]


def test_by_route(mixed):
    assert by("route") == [
        {"route": "login", "count": 3, "allow": 1, "deny": 2, "degrade": 0, "failures": 2},
        {"route": "signup", "count": 2, "allow": 1, "deny": 1, "degrade": 0, "failures": 1},
    ]


def test_by_class(mixed):
    assert by("class") == [
        {"class": "validation", "count": 3, "allow": 0, "deny": 3, "degrade": 0, "failures": 3},
        {"class": "", "count": 2, "allow": 2, "deny": 0, "degrade": 0, "failures": 0},
    ]


def test_by_ip_with_a_limit(mixed):
    assert by("ip") == [
        {"ip": "198.51.100.2", "count": 3, "allow": 0, "deny": 3, "degrade": 0, "failures": 3},
        {"ip": "198.51.100.1", "count": 1, "allow": 1, "deny": 0, "degrade": 0, "failures": 0},
        {"ip": "198.51.100.3", "count": 1, "allow": 1, "deny": 0, "degrade": 0, "failures": 0},
    ]
    assert [row["ip"] for row in by("ip", "--limit", "1")] == ["198.51.100.2"]


def test_by_platform_counts_provider_replies(mixed):
    assert by("platform") == [
        {"platform": "", "count": 3, "valid": 0, "refused": 3},
        {"platform": "web", "count": 2, "valid": 2, "refused": 0},
    ]


def test_the_text_table_of_a_breakdown(mixed):
    text = run("--by", "route")
    table = text[text.index("\nbreakdown by route:\n") :]
    lines = table.strip("\n").splitlines()
    assert lines[1].split() == ["route", "count", "allow", "deny", "degrade", "failures"]
    assert lines[2].split() == ["login", "3", "1", "2", "0", "2"]
    assert lines[3].split() == ["signup", "2", "1", "1", "0", "1"]
    assert lines[-1] == "verdict: nothing unusual: 3 failures in the window (fewer than 20)."


def test_bad_arguments_are_refused():
    with pytest.raises(CommandError):
        run("--by", "country")
    with pytest.raises(CommandError, match="--limit"):
        run("--by", "ip", "--limit", "-1")
