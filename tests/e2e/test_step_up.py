"""The demo's login page with ``step_up``: no check until three failed attempts, then the
check, and the right password with a solved check signs in."""

import pytest

from tests.demo_server import serve_demo
from tests.e2e.browsing import pass_check, set_mode, shot

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def step_up_server(tmp_path_factory):
    yield from serve_demo(tmp_path_factory.mktemp("step-up"), DEMO_STEP_UP="1")


def submit(page, password):
    page.fill("#id_username", "admin")
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("#login-form button[type=submit]")


def test_the_check_appears_after_three_failures_and_then_signs_in(page, step_up_server):
    server = step_up_server
    set_mode(page, server, "none")
    page.goto(server + "/login/")
    assert page.locator("[data-captchala]").count() == 0
    shot(page, "step-up-1-no-check")
    for n in range(3):
        submit(page, f"wrong-{n}")
        assert "Please enter a correct username and password" in page.inner_text("main")
    assert page.locator("[data-captchala]").count() == 1  # the next attempt needs the check
    shot(page, "step-up-2-check-shown")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin")
    page.click("#login-form button[type=submit]")
    pass_check(page)
    assert "Signed in as admin" in page.inner_text("header")
    shot(page, "step-up-3-signed-in")
