"""Under attack: every front door with ``step_up`` on a route asks for the check, switched by
hand or by the verdict, with a floor and a ceiling on an episode."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from captchala_django import under_attack
from captchala_django.checkpoints import verify_and_record
from captchala_django.models import UnderAttack
from captchala_django.scopes import Scope
from tests.helpers import make_request

pytestmark = pytest.mark.django_db

URL = "/login-step-up/"
REQUIRED = "Please complete the check."
INVALID = "Please enter a correct username and password"
AUTO = {"auto": True, "window": 86400, "floor": 900, "ceiling": 3600}


def login(address="203.0.113.7"):
    data = {"username": "alice", "password": "wrong"}
    return Client().post(URL, data, REMOTE_ADDR=address).content.decode()


def attack(route="login-step-up", n=22):
    """Cookieless bots' made-up tokens on ``route``, each from its own address."""
    for i in range(n):
        verify_and_record(
            make_request(f"192.0.2.{i}"), f"pt_made_up_{i:04d}_token", Scope("session", "", route)
        )


def test_switched_on_by_hand_everyone_is_asked_on_that_route(captchala_sandbox):
    get_user_model().objects.create_user("alice", password="right")
    assert INVALID in login()  # the first attempt: no check
    under_attack.switch_on("login-step-up", 600)
    assert REQUIRED in login(address="198.51.100.9")  # a first attempt, asked all the same
    assert "data-captchala" in Client().get(URL).content.decode()
    UnderAttack.objects.update(ends_at=timezone.now() - timedelta(seconds=1))
    assert INVALID in login(address="198.51.100.10")


def test_site_wide_by_hand_covers_every_route(captchala_sandbox):
    under_attack.switch_on(under_attack.SITE_WIDE, 600)
    assert REQUIRED in login()


def test_another_routes_episode_asks_nothing_here(captchala_sandbox):
    under_attack.switch_on("transfer", 600)
    assert REQUIRED not in login()


def test_the_verdict_switches_it_on_for_the_route_it_names(captchala_sandbox, settings):
    settings.CAPTCHALA_UNDER_ATTACK = AUTO
    attack()
    episode = under_attack.evaluate()
    assert episode is not None and episode.route == "login-step-up" and not episode.by_hand
    assert "failed as validation or replay" in episode.reason
    assert REQUIRED in login()
    out = StringIO()
    call_command("captchala_report", stdout=out)
    assert "under attack: login-step-up until" in out.getvalue()


def test_a_quiet_verdict_switches_nothing_on(captchala_sandbox, settings):
    settings.CAPTCHALA_UNDER_ATTACK = AUTO
    attack(n=5)
    assert under_attack.evaluate() is None and not UnderAttack.objects.exists()


def test_renewed_while_it_holds_but_never_past_the_ceiling(captchala_sandbox, settings):
    settings.CAPTCHALA_UNDER_ATTACK = AUTO
    attack()
    t0 = timezone.now()
    first = under_attack.evaluate(t0)
    assert first.ends_at == t0 + timedelta(seconds=900)  # the floor
    renewed = under_attack.evaluate(t0 + timedelta(minutes=10))
    assert renewed.ends_at == t0 + timedelta(minutes=10, seconds=900)
    for minutes in (20, 30, 40):  # renewed within the episode, each before it ends
        under_attack.evaluate(t0 + timedelta(minutes=minutes))
    capped = under_attack.evaluate(t0 + timedelta(minutes=50))
    assert capped.ends_at == t0 + timedelta(seconds=3600)  # the ceiling, not 50 min + floor
    assert capped.started_at == t0
    # Past the ceiling, an attack that goes on starts a new episode, judged afresh.
    again = under_attack.evaluate(t0 + timedelta(minutes=61))
    assert again.started_at == t0 + timedelta(minutes=61)


def test_the_verdict_never_shortens_or_renews_an_episode_set_by_hand(captchala_sandbox, settings):
    settings.CAPTCHALA_UNDER_ATTACK = AUTO
    row = under_attack.switch_on("login-step-up", 60)
    attack()
    assert under_attack.evaluate().ends_at == row.ends_at


def test_a_request_judges_the_verdict_once_a_minute(captchala_sandbox, settings):
    from captchala_django import budgets

    settings.CAPTCHALA_UNDER_ATTACK = AUTO
    budgets.reset()
    attack()
    assert REQUIRED in login()  # the login request judged it: the route is under attack
    assert UnderAttack.objects.filter(route="login-step-up").exists()
    UnderAttack.objects.all().delete()
    assert REQUIRED not in login(address="198.51.100.20")  # not judged again within the minute


def test_the_watch_command_and_the_dashboard_show_it(captchala_sandbox, settings):
    from captchala_django.insights.dashboard import dashboard_data

    settings.CAPTCHALA_UNDER_ATTACK = AUTO
    attack()
    out = StringIO()
    call_command("captchala_watch", stdout=out)
    assert out.getvalue().startswith("under attack: login-step-up until")
    board = dashboard_data()
    assert [e["route"] for e in board.step_up["under_attack"]] == ["login-step-up"]


def test_the_admin_switches_it_on_and_ends_it(captchala_sandbox, admin_client):
    url = "/admin/captchala_django/underattack/"
    ends = (timezone.now() + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    admin_client.post(
        url + "add/", {"route": "*", "ends_at_0": ends[:10], "ends_at_1": ends[11:], "reason": "x"}
    )
    row = UnderAttack.objects.get()
    assert row.by_hand and row.route == "*"
    assert REQUIRED in login()
    admin_client.post(url, {"action": "end_now", "_selected_action": [row.pk]})
    assert REQUIRED not in login(address="198.51.100.30")
