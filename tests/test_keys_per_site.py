"""Keys per site (``CAPTCHALA_KEYS_RESOLVER``), tried as a bot would: a token solved for one
app posted to the other site, a budget spent on one site carried to the other, a resolver
that fails. Two CaptchaLa apps on one project (``tests/keys.py``), the sandbox knowing both."""

import json

import pytest
from django.test import Client

from captchala_django.models import Checkpoint, CheckpointEvent
from tests.keys import SITE_A, SITE_B

pytestmark = pytest.mark.django_db
ADDRESS = "203.0.113.90"


def client(host):
    return Client(HTTP_HOST=host, REMOTE_ADDR=ADDRESS)


def test_each_site_renders_its_own_app_key(two_sites):
    for host, keys in (("a.example", SITE_A), ("b.example", SITE_B)):
        page = client(host).get("/login/").content.decode()
        assert f'data-app-key="{keys.app_key}"' in page
        assert keys.app_secret not in page
        sent = two_sites.last_requests[-1]  # the page's server token, issued for its app
        assert sent["headers"]["x-app-key"] == keys.app_key


def test_a_token_solved_for_one_app_is_refused_by_the_other_site(two_sites):
    token = two_sites.mint_pass_token(app_key=SITE_A.app_key)
    refused = client("b.example").post("/transfer/", {"captchala_token": token})
    assert refused.status_code == 403
    (record,) = CheckpointEvent.objects.filter(kind="check")
    assert (record.code, record.app_key) == ("invalid_token", SITE_B.app_key)
    # The token was never A's to lose: A's own site still takes it... once the ledger's
    # claim by B's scope is respected: a token is allowed in one scope, ever.
    again = client("a.example").post("/transfer/", {"captchala_token": token})
    assert again.status_code == 403
    assert not Checkpoint.objects.filter(status="passed").exists()


def test_a_token_solved_for_its_site_passes_and_its_record_names_the_app(two_sites):
    token = two_sites.mint_pass_token(app_key=SITE_A.app_key)
    assert client("a.example").post("/transfer/", {"captchala_token": token}).status_code == 200
    record = CheckpointEvent.objects.get(kind="check")
    assert (record.decision, record.app_key) == ("allow", SITE_A.app_key)
    validate = [r for r in two_sites.last_requests if r["path"].endswith("/v1/validate")][-1]
    assert validate["headers"]["x-app-key"] == SITE_A.app_key


def test_the_admin_shows_which_app_judged_a_check(two_sites, admin_client):
    token = two_sites.mint_pass_token(app_key=SITE_B.app_key)
    assert client("b.example").post("/transfer/", {"captchala_token": token}).status_code == 200
    checkpoint = Checkpoint.objects.get()
    page = admin_client.get(f"/admin/captchala_django/checkpoint/{checkpoint.pk}/change/")
    assert SITE_B.app_key in page.content.decode()
    assert SITE_B.app_secret not in page.content.decode()


def test_each_sites_clients_spend_budgets_of_their_own(two_sites, settings):
    settings.CAPTCHALA_VALIDATE_BUDGET = 1
    answers_a = [
        client("a.example").post("/transfer/", {"captchala_token": f"pt_made-up-a-{n}"})
        for n in range(2)
    ]
    assert [a.status_code for a in answers_a] == [403, 429]
    answer_b = client("b.example").post("/transfer/", {"captchala_token": "pt_made-up-b"})
    assert answer_b.status_code == 403  # judged, not refused by site A's budget


def test_the_settings_keys_serve_a_host_the_resolver_leaves_alone(two_sites):
    token = two_sites.mint_pass_token()
    assert client("testserver").post("/transfer/", {"captchala_token": token}).status_code == 200
    record = CheckpointEvent.objects.get(kind="check")
    assert record.app_key == "sandbox-app-key"


@pytest.mark.parametrize("resolver", ["tests.keys.broken", "tests.keys.wrong_shape"])
def test_a_failing_resolver_denies_every_check_as_configuration(
    two_sites, settings, resolver, caplog
):
    settings.CAPTCHALA_KEYS_RESOLVER = resolver
    token = two_sites.mint_pass_token()
    answer = client("a.example").post(
        "/transfer/", {"captchala_token": token}, HTTP_ACCEPT="application/json"
    )
    assert answer.status_code == 503
    assert json.loads(answer.content)["error"] == "captcha_unavailable"
    record = CheckpointEvent.objects.get(kind="check")
    assert record.failure_class == "configuration" and two_sites.count("validate") == 0
    page = client("a.example").get("/login/").content.decode()
    assert "could not be loaded" in page


@pytest.mark.parametrize("value", ["tests.keys.nowhere", "tests.keys.SITE_A"])
def test_a_resolver_that_names_no_callable_is_e020(settings, value):
    from captchala_django.checks import check_keys_resolver

    settings.CAPTCHALA_KEYS_RESOLVER = value
    assert [m.id for m in check_keys_resolver()] == ["captchala_django.E020"]
    settings.CAPTCHALA_KEYS_RESOLVER = "tests.keys.by_host"
    assert check_keys_resolver() == []
