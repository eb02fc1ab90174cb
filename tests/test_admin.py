from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from captchala_django.admin import short_digest
from captchala_django.models import Checkpoint, CheckpointEvent
from tests.factories import CheckpointEventFactory, CheckpointFactory

pytestmark = pytest.mark.django_db

LIST = "/admin/captchala_django/checkpoint/"
EVENTS = "/admin/captchala_django/checkpointevent/"


@pytest.fixture
def admin_client():
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer_client():
    user = get_user_model().objects.create_user(
        "viewer", "v@example.com", "pw-123456", is_staff=True
    )
    user.user_permissions.add(
        Permission.objects.get(codename="view_checkpoint"),
        Permission.objects.get(codename="view_checkpointevent"),
    )
    client = Client()
    client.force_login(user)
    return client


def make_rows(n):
    start = get_user_model().objects.count()
    users = [get_user_model().objects.create_user(f"u{start + i}") for i in range(3)]
    return [CheckpointFactory(user=users[i % 3], route=f"route-{i % 4}") for i in range(n)]


def test_changelist_shows_the_columns(admin_client):
    CheckpointFactory(route="transfer", client_ip="198.51.100.9", token_digest="cd" * 32)
    html = admin_client.get(LIST).content.decode()
    for text in ("transfer", "198.51.100.9", "session", "passed"):
        assert text in html
    assert "cd" * 32 not in html


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("?status__exact=failed", "route-failed", "route-passed"),
        ("?failure_class__exact=replay", "route-failed", "route-passed"),
        ("?scope_kind__exact=ip", "route-ip", "route-passed"),
        ("?q=route-ip", "route-ip", "route-passed"),
        ("?q=203.0.113.77", "route-failed", "route-passed"),
        ("?q=searchme", "route-ip", "route-failed"),
    ],
)
def test_filters_and_search(admin_client, query, shown, hidden):
    CheckpointFactory(route="route-passed")
    CheckpointFactory(
        route="route-failed", failed=True, failure_class="replay", client_ip="203.0.113.77"
    )
    user = get_user_model().objects.create_user("searchme")
    CheckpointFactory(route="route-ip", scope_kind="ip", user=user)
    html = admin_client.get(LIST + query).content.decode()
    assert shown in html and hidden not in html


def test_expired_filter_selects_expired_rows(admin_client):
    fresh = CheckpointFactory(route="fresh-route")
    stale = CheckpointFactory(route="stale-route", expired=True)
    html = admin_client.get(LIST + "?expired=yes").content.decode()
    assert stale.route in html and fresh.route not in html


def test_changelist_query_count_does_not_grow_with_rows(admin_client):
    make_rows(10)
    with CaptureQueriesContext(connection) as ten:
        assert admin_client.get(LIST).status_code == 200
    make_rows(90)
    with CaptureQueriesContext(connection) as hundred:
        assert admin_client.get(LIST + "?all=").status_code == 200
    assert len(hundred) == len(ten), ([q["sql"][:80] for q in hundred][len(ten) - 3 :],)


def test_detail_shows_the_event_trail_oldest_first_and_short_digests(admin_client):
    checkpoint = CheckpointFactory(token_digest="ab" * 32)
    later = CheckpointEventFactory(checkpoint=checkpoint, kind="decision", detail="second-event")
    earlier = CheckpointEventFactory(
        checkpoint=checkpoint,
        kind="token_received",
        detail="first-event",
        created_at=later.created_at - timedelta(seconds=5),
    )
    html = admin_client.get(f"{LIST}{checkpoint.pk}/change/").content.decode()
    assert earlier.pk > later.pk
    assert html.index("first-event") < html.index("second-event")
    assert short_digest("ab" * 32) in html and "ab" * 32 not in html
    assert 'name="_save"' not in html


def test_nothing_can_be_added_or_edited(admin_client):
    checkpoint = CheckpointFactory()
    assert admin_client.get(LIST + "add/").status_code == 403
    response = admin_client.post(
        f"{LIST}{checkpoint.pk}/change/", {"status": "failed", "version": 99}
    )
    assert response.status_code == 403
    checkpoint.refresh_from_db()
    assert (checkpoint.status, checkpoint.version) == ("passed", 1)
    assert admin_client.post(f"{LIST}{checkpoint.pk}/delete/", {"post": "yes"}).status_code == 403


def row(model, pk):
    return model.objects.filter(pk=pk).values().get()


def writes(queries):
    verbs = ("INSERT", "UPDATE", "DELETE", "REPLACE")
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(verbs)]


CHANGED_CHECKPOINT = {
    "status": "failed",
    "scope_kind": "ip",
    "route": "forged",
    "client_ip": "192.0.2.1",
    "version": "99",
    "attempts": "7",
    "failure_class": "replay",
    "failure_detail": "forged",
    "created_at_0": "2001-01-01",
    "created_at_1": "00:00:00",
    "updated_at_0": "2001-01-01",
    "updated_at_1": "00:00:00",
    "passed_at_0": "2001-01-01",
    "passed_at_1": "00:00:00",
    "expires_at_0": "2099-01-01",
    "expires_at_1": "00:00:00",
    "request_id": "forged",
    # The inline's management form: without it the admin re-renders the form instead of saving.
    "events-TOTAL_FORMS": "1",
    "events-INITIAL_FORMS": "1",
    "events-MIN_NUM_FORMS": "0",
    "events-MAX_NUM_FORMS": "0",
    "_save": "Save",
}


@pytest.mark.parametrize("client_fixture", ["admin_client", "viewer_client"])
def test_checkpoint_change_form_refuses_post_and_writes_nothing(request, client_fixture):
    client = request.getfixturevalue(client_fixture)
    checkpoint = CheckpointFactory()
    CheckpointEventFactory(checkpoint=checkpoint)
    before = row(Checkpoint, checkpoint.pk)
    with CaptureQueriesContext(connection) as queries:
        response = client.post(f"{LIST}{checkpoint.pk}/change/", CHANGED_CHECKPOINT)
    assert response.status_code == 403
    assert row(Checkpoint, checkpoint.pk) == before
    assert writes(queries) == []
    assert not LogEntry.objects.exists()
    assert client.get(f"{LIST}{checkpoint.pk}/change/").status_code == 200


@pytest.mark.parametrize("client_fixture", ["admin_client", "viewer_client"])
def test_event_change_form_refuses_post_and_writes_nothing(request, client_fixture):
    client = request.getfixturevalue(client_fixture)
    event = CheckpointEventFactory(detail="original")
    before = row(CheckpointEvent, event.pk)
    changed = {
        "kind": "reset",
        "decision": "deny",
        "detail": "forged",
        "version": "99",
        "status_code": "500",
        "latency_ms": "1",
        "request_id": "forged",
        "_save": "Save",
    }
    with CaptureQueriesContext(connection) as queries:
        response = client.post(f"{EVENTS}{event.pk}/change/", changed)
    assert response.status_code == 403
    assert row(CheckpointEvent, event.pk) == before
    assert writes(queries) == []
    assert not LogEntry.objects.exists()
    assert client.get(f"{EVENTS}{event.pk}/change/").status_code == 200


@pytest.mark.parametrize("url", [LIST + "add/", EVENTS + "add/"])
def test_add_forms_refuse_post(admin_client, url):
    checkpoints, events = Checkpoint.objects.count(), CheckpointEvent.objects.count()
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.post(url, CHANGED_CHECKPOINT)
    assert response.status_code == 403
    assert writes(queries) == []
    assert (Checkpoint.objects.count(), CheckpointEvent.objects.count()) == (checkpoints, events)


@pytest.mark.parametrize(
    ("action", "kind"), [("expire_selected", "expired"), ("reset_selected", "reset")]
)
def test_actions_write_an_event_through_the_write_path(admin_client, action, kind):
    rows = [CheckpointFactory(), CheckpointFactory()]
    response = admin_client.post(
        LIST, {"action": action, "_selected_action": [r.pk for r in rows]}, follow=True
    )
    assert response.status_code == 200
    for row in rows:
        row.refresh_from_db()
        assert not row.is_passed() and row.version == 2
        assert row.events.get().kind == kind
    assert Checkpoint.objects.filter(status="pending").count() == (2 if kind == "reset" else 0)


def test_staff_with_view_permission_only_can_look_but_not_act(viewer_client):
    checkpoint = CheckpointFactory()
    CheckpointEventFactory(checkpoint=checkpoint)
    listing = viewer_client.get(LIST)
    assert listing.status_code == 200
    assert "expire_selected" not in listing.content.decode()
    assert viewer_client.get(f"{LIST}{checkpoint.pk}/change/").status_code == 200
    assert viewer_client.get("/admin/captchala_django/checkpointevent/").status_code == 200
    viewer_client.post(LIST, {"action": "reset_selected", "_selected_action": [checkpoint.pk]})
    checkpoint.refresh_from_db()
    assert checkpoint.version == 1


# ----------------------------------------------------------------- read-only pages, search


@pytest.mark.parametrize("client_fixture", ["admin_client", "viewer_client"])
def test_the_detail_page_is_view_checkpoint_for_everyone(request, client_fixture):
    client = request.getfixturevalue(client_fixture)
    checkpoint = CheckpointFactory()
    html = client.get(f"{LIST}{checkpoint.pk}/change/").content.decode()
    assert "<h1>View checkpoint</h1>" in html
    assert "Change checkpoint" not in html
    assert "| View checkpoint |" in html.split("</title>")[0]


def test_superusers_keep_the_actions_while_the_detail_page_is_read_only(admin_client):
    checkpoint = CheckpointFactory()
    assert "reset_selected" in admin_client.get(LIST).content.decode()
    html = admin_client.get(f"{LIST}{checkpoint.pk}/change/").content.decode()
    assert '<div class="readonly">passed</div>' in html
    assert 'name="status"' not in html and 'name="_save"' not in html


def test_the_event_timeline_is_compact(admin_client):
    checkpoint = CheckpointFactory()
    CheckpointEventFactory(
        checkpoint=checkpoint,
        kind="validate_response",
        decision="",
        detail="ok",
        status_code=200,
        latency_ms=35,
        risk_score=12,
        request_id="f" * 32,
    )
    CheckpointEventFactory(
        checkpoint=checkpoint,
        decision="deny",
        failure_class="validation",
        detail="token_action_mismatch",
        request_id="f" * 32,
    )
    html = admin_client.get(f"{LIST}{checkpoint.pk}/change/").content.decode()
    timeline = html[html.index('id="events-group"') :]
    assert "captchala-timeline" in timeline
    assert "200 · 35 ms · risk 12" in timeline
    assert "deny · validation" in timeline
    assert "token_<wbr>action_<wbr>mismatch" in timeline
    assert f'<span title="{"f" * 32}">ffffffff…</span>' in timeline
    assert "captchala_django/dashboard.css" in html


def result_rows(html):
    if '<table id="result_list"' not in html:
        return 0
    body = html[html.index('<table id="result_list"') :]
    return body[: body.index("</table>")].count("<tr") - 1  # minus the header row


def test_a_request_id_finds_its_checkpoint_once_through_its_events(admin_client):
    wanted = CheckpointFactory(route="wanted-route", request_id="latest-request")
    for kind in ("token_received", "validate_sent", "validate_response", "decision"):
        CheckpointEventFactory(checkpoint=wanted, kind=kind, request_id="older-request-42")
    other = CheckpointFactory(route="other-route")
    CheckpointEventFactory(checkpoint=other, request_id="another-request")
    for query in ("older-request-42", "latest-request"):
        html = admin_client.get(LIST, {"q": query}).content.decode()
        assert "wanted-route" in html and "other-route" not in html
        assert result_rows(html) == 1
    assert result_rows(admin_client.get(LIST, {"q": "older-request"}).content.decode()) == 0


def test_a_request_id_finds_its_events(admin_client):
    checkpoint = CheckpointFactory()
    CheckpointEventFactory(checkpoint=checkpoint, kind="decision", request_id="find-me-123")
    CheckpointEventFactory(checkpoint=checkpoint, kind="reset", request_id="not-this-one")
    html = admin_client.get(EVENTS, {"q": "find-me-123"}).content.decode()
    assert result_rows(html) == 1 and "find-me-123" in html and "not-this-one" not in html


def test_the_list_has_compact_columns(admin_client):
    user = get_user_model().objects.create_user("listed-user")
    CheckpointFactory(
        route="api/v1/transfer", user=user, failed=True, client_ip="2001:db8::1", attempts=3
    )
    html = admin_client.get(LIST).content.decode()
    for header in ("column-status_badge", "column-route_and_scope", "column-client"):
        assert header in html
    assert "failed<br>" in html and ">validation</span>" in html
    assert "api/<wbr>v1/<wbr>transfer" in html
    assert "2001:<wbr>db8:<wbr>:<wbr>1" in html and ">listed-user</span>" in html
    assert ">3 attempts</span>" in html and "expires " in html


def test_the_admin_says_view_for_checkpoints_everywhere(admin_client):
    """Nothing here is changed by hand: the index links say "View" and the lists'
    titles "Select ... to view", while the actions keep working."""
    CheckpointFactory()
    index = admin_client.get("/admin/").content.decode()
    for model in ("checkpoint", "checkpointevent", "attemptcount"):
        row = index[index.index(f'class="model-{model}') :]
        row = row[: row.index("</tr>")]
        assert ">View<" in row and ">Change<" not in row, model
    for url, name in (
        (LIST, "checkpoint"),
        ("/admin/captchala_django/checkpointevent/", "checkpoint event"),
    ):
        page = admin_client.get(url).content.decode()
        assert f"Select {name}" in page and "to view" in page and "to change" not in page
