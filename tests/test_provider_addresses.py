"""What the provider says it saw (``captcha_args.user_ip``) and the peer address the
server reports are outside input: whatever they hold, a valid verdict is a stored pass
with its one record, and a mismatch is counted."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from captchala_django.checkpoints import verify_and_record
from captchala_django.models import Checkpoint, CheckpointEvent
from tests.helpers import make_request, scope

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("captchala_sandbox")]

JSON = {"HTTP_ACCEPT": "application/json"}
#: A zone makes an IPv6 address longer than any address column (39 characters).
LONG_ZONE = "fe80::1%" + "z" * 37
WEIRD_USER_IPS = [
    "fe80::1%eth0",
    LONG_ZONE,
    "1111:2222:3333:4444:5555:6666:7777:8888%z",
    "not-an-ip",
    "x" * 5000,
    "198.51.100.9\r\nX-Forged: 1",
    ["198.51.100.9"],
    {"ip": "198.51.100.9"},
    1234567890,
]


@pytest.mark.parametrize("user_ip", WEIRD_USER_IPS, ids=lambda v: repr(v)[:24])
def test_a_weird_provider_address_never_breaks_the_write(captchala_sandbox, user_ip):
    token = captchala_sandbox.mint_pass_token("login", user_ip=user_ip)
    outcome = verify_and_record(make_request(ip="203.0.113.7"), token, scope("weird"), "login")
    assert (outcome.allowed, outcome.failure_class, outcome.persisted) == (True, None, True)
    assert Checkpoint.objects.filter(status="passed").count() == 1
    record = CheckpointEvent.objects.get()
    assert record.decision == "allow" and len(record.detail) <= 200
    assert record.provider_ip is None or len(record.provider_ip) <= 39


def test_a_zoned_provider_address_is_stored_without_its_zone(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token(user_ip="2001:db8::9%" + "z" * 40)
    assert verify_and_record(make_request(ip="203.0.113.7"), token, scope("zone")).allowed
    assert CheckpointEvent.objects.get().provider_ip == "2001:db8::9"


def test_a_zoned_provider_address_under_deny_still_lets_the_user_in(captchala_sandbox, settings):
    settings.CAPTCHALA_ON_PERSISTENCE_ERROR = "deny"
    token = captchala_sandbox.mint_pass_token(user_ip=LONG_ZONE)
    client = Client(REMOTE_ADDR="203.0.113.7")
    response = client.post("/transfer/", {"captchala_token": token}, **JSON)
    assert response.status_code == 200 and response.json()["degraded"] is False
    assert client.post("/transfer/", {}, **JSON).status_code == 200  # the pass was kept


def test_a_zoned_peer_address_never_breaks_the_write(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token()
    client = Client(REMOTE_ADDR="fe80::1%" + "z" * 40)
    response = client.post("/transfer/", {"captchala_token": token}, **JSON)
    assert response.status_code == 200 and response.json()["class"] is None
    assert Checkpoint.objects.get().client_ip == "fe80::1"


def test_a_mismatch_with_a_provider_address_that_is_not_one_is_still_counted(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token("login", user_ip="farm-node-17")
    assert verify_and_record(make_request(), token, scope("farm"), "login").allowed
    assert CheckpointEvent.objects.get().detail == "provider saw farm-node-17"
    out = StringIO()
    call_command("captchala_report", "--json", stdout=out)
    assert json.loads(out.getvalue())["ip_mismatches"] == 1
