"""What is stored of a client's address (``CAPTCHALA_ADDRESS_STORAGE``), tried in each mode:
the checkpoint's address and the address the provider saw, the dashboard's address table,
``captchala_report --by ip``, the admin, the logs; the ``ip`` scope still holds a pass per
client; and how long ``captchala_cleanup`` keeps each table (``CAPTCHALA_RETENTION``)."""

import json
import logging
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from captchala_django.checkpoints import get_passed, verify_and_record
from captchala_django.cleanup import cleanup
from captchala_django.conf import app_settings
from captchala_django.insights.dashboard import dashboard_data
from captchala_django.ip import stored_address
from captchala_django.models import AttemptCount, Checkpoint, CheckpointEvent
from tests.helpers import make_request

pytestmark = pytest.mark.django_db
V4, V4_NEIGHBOUR, V4_ELSEWHERE = "203.0.113.77", "203.0.113.78", "198.51.100.5"
V6 = "2001:db8:1:2::5"
SOLVED_FROM = "192.0.2.200"
MODES = ("full", "truncated", "hashed", "none")


def stored(mode, address):
    return {
        "full": address,
        "truncated": {V4: "203.0.113.0", V6: "2001:db8:1::", SOLVED_FROM: "192.0.2.0"}.get(address),
        "none": None,
    }.get(mode, "hashed")


@pytest.fixture(params=MODES)
def mode(request, settings):
    settings.CAPTCHALA_ADDRESS_STORAGE = request.param
    return request.param


def post(address, token):
    return Client(REMOTE_ADDR=address).post(
        "/transfer/", {"captchala_token": token}, REMOTE_ADDR=address
    )


def test_each_mode_stores_what_it_says_on_every_table(captchala_sandbox, mode):
    token = captchala_sandbox.mint_pass_token(user_ip=SOLVED_FROM)
    assert post(V4, token).status_code == 200
    assert post(V6, "pt_made-up-token-from-v6").status_code == 403
    rows = {row.client_ip for row in Checkpoint.objects.all()}
    seen = CheckpointEvent.objects.exclude(provider_ip=None).values_list("provider_ip", flat=True)
    if mode == "hashed":
        assert len(rows) == 2 and all(r.startswith("fd") for r in rows)
        assert rows.isdisjoint({V4, V6}) and list(seen)[0].startswith("fd")
    else:
        assert rows == {stored(mode, V4), stored(mode, V6)} - ({None} if mode != "none" else set())
        assert list(seen) == ([stored(mode, SOLVED_FROM)] if mode != "none" else [])


def test_a_keyed_hash_is_one_per_address_and_reveals_none(settings):
    settings.CAPTCHALA_ADDRESS_STORAGE = "hashed"
    one, again, neighbour = stored_address(V4), stored_address(V4), stored_address(V4_NEIGHBOUR)
    assert one == again and one != neighbour and V4 not in one
    settings.SECRET_KEY = "another-secret-key-entirely-0123456789"
    assert stored_address(V4) != one  # keyed: nobody without the key can try addresses


def test_the_ip_scope_holds_a_pass_per_client_in_every_mode(captchala_sandbox, mode):
    here, neighbour = make_request(ip=V4), make_request(ip=V4_NEIGHBOUR)
    outcome = verify_and_record(here, captchala_sandbox.mint_pass_token(), scope="ip")
    assert outcome.allowed
    assert get_passed(make_request(ip=V4), "ip") is not None
    # The neighbour in the same /24 (what "truncated" stores) has no pass of its own.
    assert get_passed(neighbour, "ip") is None


def failures(sandbox, address, n):
    """A client with a session (earned by a pass on /transfer/) failing ``n`` checks on
    another route: its failures are its own (a cookieless client's are shared)."""
    client = Client(REMOTE_ADDR=address)
    assert client.post("/transfer/", {"captchala_token": sandbox.mint_pass_token()}).status_code
    for i in range(n):
        client.post("/statement/", {"captchala_token": f"pt_made-up-{address}-{i}"})


def test_the_dashboard_and_the_report_group_by_what_is_stored(captchala_sandbox, mode):
    failures(captchala_sandbox, V4, 3)
    failures(captchala_sandbox, V4_ELSEWHERE, 1)
    board = dashboard_data()
    counts = sorted(row["count"] for row in board.addresses)
    out = StringIO()
    call_command("captchala_report", "--json", "--by", "ip", stdout=out)
    breakdown = json.loads(out.getvalue())["breakdown"]
    if mode == "none":
        assert counts == [4] and board.addresses[0]["address"] is None
        assert [row["ip"] for row in breakdown] == [None]
    else:
        assert counts == [1, 3]  # two clients, told apart in every other mode
        assert len(breakdown) == 2
    if mode != "full":
        text = json.dumps(board.addresses) + out.getvalue()
        assert V4 not in text and V4_ELSEWHERE not in text


def test_the_admin_and_the_logs_show_no_address_but_the_stored_one(
    captchala_sandbox, mode, admin_client, caplog
):
    caplog.set_level(logging.DEBUG)
    post(V4, "pt_made-up-token")
    page = admin_client.get("/admin/captchala_django/checkpoint/").content.decode()
    logs = " ".join(r.getMessage() + str(vars(r)) for r in caplog.records)
    assert (V4 in page) is (mode == "full")
    assert V4 not in logs  # no log line carries an address, in any mode


def test_retention_of_records_and_counts(captchala_sandbox, settings):
    settings.CAPTCHALA_RETENTION = {"records": 7 * 86400, "counters": 3600}
    post(V4, "pt_made-up-token")
    Client().post("/login-step-up/", {"username": "someone", "password": "x"}, REMOTE_ADDR=V4)
    now = timezone.now()
    CheckpointEvent.objects.update(created_at=now - timedelta(days=6))
    AttemptCount.objects.update(window_ends=now - timedelta(minutes=30))
    cleanup()
    assert CheckpointEvent.objects.exists() and AttemptCount.objects.exists()  # kept
    CheckpointEvent.objects.update(created_at=now - timedelta(days=8))
    AttemptCount.objects.update(window_ends=now - timedelta(hours=2))
    result = cleanup()
    assert result.events > 0 and result.attempt_counts > 0
    assert not CheckpointEvent.objects.exists() and not AttemptCount.objects.exists()


@pytest.mark.parametrize(
    "name,value",
    [
        ("CAPTCHALA_ADDRESS_STORAGE", "anonymised"),
        ("CAPTCHALA_RETENTION", {"records": 60}),  # shorter than a retry and its answer
        ("CAPTCHALA_RETENTION", {"ledger": 3600}),  # the ledger's is CAPTCHALA_LEDGER_TTL
    ],
)
def test_a_wrong_privacy_setting_is_a_system_check_error(settings, name, value):
    from captchala_django.checks import check_settings

    setattr(settings, name, value)
    ids = {m.id for m in check_settings()}
    assert ids & {"captchala_django.E018", "captchala_django.E019"}


def test_the_default_keeps_addresses_as_before():
    assert app_settings.ADDRESS_STORAGE == "full"
    assert stored_address(V4) == V4
