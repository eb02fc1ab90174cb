"""The dashboard on the app's admin index page (``{% captchala_dashboard %}``)."""

import re
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import path
from django.utils import timezone

from captchala_django.admin import CheckpointAdmin, CheckpointEventAdmin
from captchala_django.checkpoints import verify_and_record
from captchala_django.insights.dashboard import HOURS, QUERIES, dashboard_data, nice_ceiling
from captchala_django.models import Checkpoint, CheckpointEvent, EventKind
from captchala_django.scopes import Scope
from tests.factories import CheckpointEventFactory, CheckpointFactory
from tests.helpers import FORGED, make_request, scope

pytestmark = pytest.mark.django_db

INDEX = "/admin/captchala_django/"

# A custom AdminSite with the package's admins registered: the dashboard needs nothing
# from the site (this module is its own URLconf for the test that uses it).
custom_site = admin.AdminSite(name="custom_ops")
custom_site.register(Checkpoint, CheckpointAdmin)
custom_site.register(CheckpointEvent, CheckpointEventAdmin)
urlpatterns = [path("ops/", custom_site.urls)]


def client_for(*codenames, staff=True, superuser=False):
    users = get_user_model()
    name = f"user{users.objects.count()}"
    if superuser:
        user = users.objects.create_superuser(name, f"{name}@example.com", "pw-123456")
    else:
        user = users.objects.create_user(name, f"{name}@example.com", "pw-123456", is_staff=staff)
        user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def section(html: str) -> str:
    """The dashboard's own markup."""
    start = html.index('<section class="captchala-dashboard"')
    return html[start : html.index("</section>", start)]


def mint(sandbox):
    return sandbox.mint_pass_token()


# ------------------------------------------------------------------ who sees it


def test_superuser_sees_the_models_and_the_dashboard_with_its_stylesheet():
    html = client_for(superuser=True).get(INDEX).content.decode()
    assert 'href="/admin/captchala_django/checkpoint/"' in html
    assert 'href="/admin/captchala_django/checkpointevent/"' in html
    assert "captchala_django/dashboard.css" in html
    assert 'id="captchala-verdict"' in section(html)


def test_staff_with_the_view_permission_sees_the_dashboard():
    response = client_for("view_checkpoint").get(INDEX)
    assert response.status_code == 200
    assert 'id="captchala-verdict"' in response.content.decode()


def test_staff_who_may_view_only_events_get_the_models_but_no_dashboard():
    response = client_for("view_checkpointevent").get(INDEX)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'href="/admin/captchala_django/checkpointevent/"' in html
    assert "captchala-dashboard" not in html and "captchala-verdict" not in html


def test_others_get_the_admins_usual_answers():
    anonymous = Client().get(INDEX)
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    not_staff = client_for("view_checkpoint", staff=False).get(INDEX)
    assert not_staff.status_code == 302 and "/admin/login/" in not_staff["Location"]
    assert client_for().get(INDEX).status_code == 404  # staff without any permission here


@pytest.mark.urls(__name__)
def test_it_works_on_a_custom_admin_site():
    CheckpointEventFactory(decision="deny", failure_class="validation")
    html = client_for("view_checkpoint").get("/ops/captchala_django/").content.decode()
    assert 'href="/ops/captchala_django/checkpoint/"' in html
    board = section(html)
    assert 'id="captchala-verdict"' in board and "<svg" in board


# ------------------------------------------------------------------ how it is drawn


def test_every_chart_is_an_accessible_svg_with_a_table_and_no_script_or_style(
    captchala_sandbox,
):
    verify_and_record(make_request(), mint(captchala_sandbox), scope("a", "login"))
    verify_and_record(make_request(), FORGED, scope("b", "login"))
    board = section(client_for(superuser=True).get(INDEX).content.decode())
    charts = re.findall(r"<svg\b[^>]*>\s*<title>[^<]+</title>", board)
    assert len(charts) == 6 == board.count("<svg")
    for chart in charts:
        assert 'role="img"' in chart
        assert re.search(r'aria-label="[^"]+"', chart)
    assert board.count("<table") == 6
    assert board.count("<caption") == 6
    assert " style=" not in board and "<script" not in board
    assert "1 allowed, 1 denied, 0 degraded" in board


def test_nice_ceiling_gives_a_whole_middle_gridline():
    assert [nice_ceiling(v) for v in (0, 1, 3, 5, 11, 39, 41, 999)] == [
        2,
        2,
        4,
        10,
        20,
        40,
        100,
        1000,
    ]


# ------------------------------------------------------------------ the figures


def test_decisions_by_hour_and_by_day_from_real_checks(captchala_sandbox, settings):
    verify_and_record(make_request(), mint(captchala_sandbox), scope("a", "login"))
    verify_and_record(make_request(), FORGED, scope("b", "login"))
    settings.CAPTCHALA_ON_PROVIDER_ERROR = "allow"
    captchala_sandbox.set_fault("error")
    verify_and_record(make_request(), mint(captchala_sandbox), scope("c", "login"))
    captchala_sandbox.clear_faults()
    # Two older decisions: three hours ago, and five days ago.
    now = timezone.now()
    older = verify_and_record(make_request(), FORGED + "x", scope("d", "login"))
    oldest = verify_and_record(make_request(), FORGED + "y", scope("e", "login"))
    CheckpointEvent.objects.filter(checkpoint=older.checkpoint).update(
        created_at=now - timedelta(hours=3)
    )
    CheckpointEvent.objects.filter(checkpoint=oldest.checkpoint).update(
        created_at=now - timedelta(days=5)
    )

    board = dashboard_data(now)
    assert len(board.hourly) == HOURS and len(board.daily) == 14
    current, three_ago = board.hourly[-1], board.hourly[-4]
    assert (current["allow"], current["deny"], current["degrade"]) == (1, 1, 1)
    assert (three_ago["deny"], three_ago["total"]) == (1, 1)
    assert sum(b["total"] for b in board.hourly) == 4
    today, five_ago = board.daily[-1], board.daily[-6]
    assert today["day"] == timezone.localdate(now)
    assert five_ago["deny"] == 1
    assert sum(b["total"] for b in board.daily) == 5
    assert board.charts["hourly"]["totals"] == {"allow": 1, "deny": 2, "degrade": 1}


def test_failures_by_class_route_and_address(captchala_sandbox, settings):
    for i in range(3):
        verify_and_record(
            make_request("198.51.100.1"), FORGED + str(i), Scope("ip", "198.51.100.1", "login")
        )
    verify_and_record(
        make_request("198.51.100.2"), FORGED + "z", Scope("ip", "198.51.100.2", "signup")
    )
    # Cookieless clients share the route's anonymous checkpoint: no address for them.
    for ip in ("192.0.2.1", "192.0.2.2"):
        verify_and_record(make_request(ip), FORGED + ip, route="login")
    settings.CAPTCHALA_APP_SECRET = "a-wrong-secret-for-this-app"
    verify_and_record(make_request("198.51.100.3"), mint(captchala_sandbox), scope("k", "pay"))

    board = dashboard_data()
    classes = {row["failure_class"]: row["count"] for row in board.by_class}
    assert classes == {"validation": 6, "configuration": 1}
    assert board.by_class[0]["label"] == "validation (bad token)"
    assert board.routes == [
        {"route": "login", "count": 5},
        {"route": "pay", "count": 1},
        {"route": "signup", "count": 1},
    ]
    assert board.addresses == [
        {"address": "198.51.100.1", "count": 3},
        {"address": None, "count": 2},
        {"address": "198.51.100.2", "count": 1},
        {"address": "198.51.100.3", "count": 1},
    ]


def test_provider_latency_percentiles_are_interpolated_like_percentile_cont():
    checkpoint = CheckpointFactory()
    CheckpointEvent.objects.bulk_create(
        CheckpointEvent(
            checkpoint=checkpoint, kind=EventKind.VALIDATE_RESPONSE, latency_ms=ms, detail="ok"
        )
        for ms in range(1, 101)
    )
    # Not replies, or without a latency: not counted.
    CheckpointEventFactory(checkpoint=checkpoint, kind=EventKind.DECISION, latency_ms=9999)
    CheckpointEventFactory(checkpoint=checkpoint, kind=EventKind.VALIDATE_RESPONSE)
    latency = dashboard_data().latency
    assert latency["count"] == 100
    assert latency["p50"] == pytest.approx(50.5)
    assert latency["p95"] == pytest.approx(95.05)


def test_latency_of_one_reply_and_of_none():
    assert dashboard_data().latency == {"count": 0, "p50": None, "p95": None}
    CheckpointEventFactory(kind=EventKind.VALIDATE_RESPONSE, latency_ms=42)
    latency = dashboard_data().latency
    assert (latency["count"], latency["p50"], latency["p95"]) == (1, 42, 42)


def test_hours_follow_the_local_time_zone_even_at_half_hours(settings):
    settings.TIME_ZONE = "Asia/Kolkata"  # UTC+05:30
    now = timezone.now()
    CheckpointEventFactory(created_at=now - timedelta(minutes=61))
    board = dashboard_data(now)
    local = timezone.localtime(now - timedelta(minutes=61))
    bucket = next(b for b in board.hourly if b["total"])
    assert bucket["start"] == local.replace(minute=0, second=0, microsecond=0)


# ------------------------------------------------------------------ bounded cost


def seed(n: int) -> None:
    """``n`` decision events (and as many replies) on 50 checkpoints, routes and addresses."""
    start = Checkpoint.objects.count()
    rows = Checkpoint.objects.bulk_create(
        Checkpoint(
            scope_key=Scope("ip", f"seed-{start + i}", "r").key,
            scope_kind="ip",
            route=f"route-{i % 7}",
            status="failed",
            client_ip=f"203.0.113.{(start + i) % 250}",
        )
        for i in range(50)
    )
    now = timezone.now()
    events = []
    for i in range(n):
        row = rows[i % len(rows)]
        at = now - timedelta(hours=i % 300)
        events.append(
            CheckpointEvent(
                checkpoint=row,
                kind=EventKind.DECISION,
                created_at=at,
                decision=("allow", "deny", "degrade")[i % 3],
                failure_class=("", "validation", "provider")[i % 3],
            )
        )
        events.append(
            CheckpointEvent(
                checkpoint=row, kind=EventKind.VALIDATE_RESPONSE, created_at=at, latency_ms=i % 97
            )
        )
    CheckpointEvent.objects.bulk_create(events, batch_size=500)


def test_the_number_of_queries_does_not_grow_with_the_rows():
    client = client_for(superuser=True)
    client.get(INDEX)  # the session and the user's permissions are cached after this
    seed(10)
    with CaptureQueriesContext(connection) as data_10:
        dashboard_data()
    with CaptureQueriesContext(connection) as page_10:
        assert client.get(INDEX).status_code == 200
    seed(990)
    assert CheckpointEvent.objects.filter(kind=EventKind.DECISION).count() == 1000
    with CaptureQueriesContext(connection) as data_1000:
        board = dashboard_data()
    with CaptureQueriesContext(connection) as page_1000:
        assert client.get(INDEX).status_code == 200
    assert len(data_10) == len(data_1000) == QUERIES
    assert len(page_10) == len(page_1000), [q["sql"][:90] for q in page_1000.captured_queries]
    assert len(board.routes) == 7 and len(board.addresses) == 8  # bounded lists
