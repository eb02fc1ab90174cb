"""The demo in a real browser: Debian's Chromium driven by Playwright, headless.

Screenshots of each step go to tests/e2e/artifacts/ (ignored by git).
"""

import pytest

from tests.e2e.browsing import login, pass_check, set_mode, shot

pytestmark = pytest.mark.e2e


def test_login_transfer_and_admin(page, module_demo_server):
    server = module_demo_server
    set_mode(page, server, "none")
    posted = login(page, server)
    assert "Signed in as admin" in page.inner_text("header")
    assert any("captchala_token=pt_" in (body or "") for body in posted)
    shot(page, "login-3-signed-in")

    page.goto(server + "/transfer/")
    page.fill("#id_amount", "250")
    with page.expect_navigation():
        page.click("#transfer-form button[type=submit]")
    assert "Quick check" in page.inner_text("main")  # the challenge page of the decorator
    shot(page, "transfer-1-challenge")
    page.click("#challenge-form button[type=submit]")
    pass_check(page)
    assert page.inner_text("#transfer-done") == "Transfer sent"
    assert "250" in page.inner_text("main")
    shot(page, "transfer-2-done")

    # A second transfer in the same session rides on the checkpoint: no check.
    page.goto(server + "/transfer/")
    with page.expect_navigation():
        page.click("#transfer-form button[type=submit]")
    assert page.inner_text("#transfer-done") == "Transfer sent"

    page.goto(server + "/admin/captchala_django/checkpoint/")
    table = page.inner_text("#result_list")
    assert "login" in table and "transfer" in table
    shot(page, "admin-1-checkpoints")
    with page.expect_navigation():
        page.click("#result_list tbody tr th a")
    trail = page.inner_text("body").lower()
    # One record of the check: its kind, decision, code and token hint, the provider's side.
    assert "check" in trail and "allow" in trail and "ok · pt_" in trail
    assert "200 · " in trail and " ms" in trail
    shot(page, "admin-2-event-trail")


def test_replayed_token_is_refused(browser, page, module_demo_server):
    server = module_demo_server
    set_mode(page, server, "none")
    posted = login(page, server, "replay-source")
    token = next(
        part.split("=", 1)[1]
        for body in posted
        for part in (body or "").split("&")
        if part.startswith("captchala_token=")
    )
    other = browser.new_context().new_page()  # another session
    other.goto(server + "/login/")
    other.fill("#id_username", "admin")
    other.fill("#id_password", "admin")
    with other.expect_navigation():
        other.evaluate(
            "t => { document.querySelector('input[name=captchala_token]').value = t;"
            " document.getElementById('login-form').submit(); }",
            token,
        )
    assert "The check was not passed. Please try again." in other.inner_text("main")
    assert "Signed in" not in other.inner_text("header")
    shot(other, "replay-refused")
    other.context.close()


def test_provider_down_shows_the_reload_message_on_the_page(page, module_demo_server):
    """With the whole provider down, no server token can be issued: the widget says so."""
    server = module_demo_server
    set_mode(page, server, "error")
    try:
        page.goto(server + "/login/")
        assert "Please reload the page to try again." in page.inner_text("main")
        shot(page, "provider-down-reload")
    finally:
        set_mode(page, server, "none")


def test_validation_down_shows_the_retry_message(page, module_demo_server):
    server = module_demo_server
    set_mode(page, server, "validate_error")
    try:
        login(page, server, "provider-down")
        main = page.inner_text("main")
        assert "The check could not be completed right now. Please try again." in main
        assert "Signed in" not in page.inner_text("header")
        shot(page, "provider-down-retry")
    finally:
        set_mode(page, server, "none")


def admin_login(page, server, next_url):
    """The demo's admin login page: username, password and the check, like the site's."""
    page.goto(f"{server}/admin/login/?next={next_url}")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin")
    page.click("#login-form [type=submit]")
    pass_check(page)


def forged_login(browser, server, n):
    """``n`` bots' login posts with made-up tokens (another session each)."""
    for i in range(n):
        bot = browser.new_context().new_page()
        bot.goto(server + "/login/")
        bot.fill("#id_username", "admin")
        bot.fill("#id_password", "admin")
        with bot.expect_navigation():
            bot.evaluate(
                "t => { document.querySelector('input[name=captchala_token]').value = t;"
                " document.getElementById('login-form').submit(); }",
                f"pt_made_up_token_{i:04d}_for_the_dashboard",
            )
        bot.context.close()


def assert_no_clipped_column(page):
    """The changelist's table fits its scrolling box: no column is cut off."""
    box = page.locator("#changelist-form .results")
    assert box.evaluate("e => e.scrollWidth <= e.clientWidth"), "a column is clipped"


def test_dashboard_and_read_only_checkpoint_in_light_and_dark(browser, page, module_demo_server):
    server = module_demo_server
    set_mode(page, server, "none")
    forged_login(browser, server, 3)
    page.set_viewport_size({"width": 1100, "height": 900})
    admin_login(page, server, "/admin/captchala_django/")
    assert page.url.endswith("/admin/captchala_django/")
    assert "Checkpoints" in page.inner_text("#content-main .app-captchala_django")

    fills = {}
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.reload()
        board = page.locator(".captchala-dashboard")
        charts = board.locator("svg[role=img]")
        assert charts.count() == 6
        for i in range(charts.count()):
            chart = charts.nth(i)
            assert chart.get_attribute("aria-label")
            assert chart.locator(":scope > title").text_content().strip()
        assert board.locator("table").count() == 6
        assert board.locator("[style], script").count() == 0
        verdict = page.inner_text("#captchala-verdict")
        assert any(
            label in verdict
            for label in ("likely an integration problem", "likely an attack", "nothing unusual")
        )
        # The charts' text takes the admin theme's colour (its --body-fg, as the body's).
        fill = board.locator(".cl-label").first.evaluate("e => getComputedStyle(e).fill")
        assert fill == page.evaluate("getComputedStyle(document.body).color")
        fills[scheme] = fill
        shot(page, f"dashboard-{scheme}")

        page.goto(server + "/admin/captchala_django/checkpointevent/")
        shot(page, f"admin-5-events-{scheme}")
        assert_no_clipped_column(page)

        page.goto(server + "/admin/captchala_django/checkpoint/")
        shot(page, f"admin-3-checkpoints-{scheme}")
        assert_no_clipped_column(page)
        with page.expect_navigation():
            page.click("#result_list tbody tr th a")
        shot(page, f"admin-4-view-checkpoint-{scheme}")
        assert page.inner_text("#content h1") == "View checkpoint"
        timeline = page.locator(".captchala-timeline table")
        assert timeline.bounding_box()["width"] <= 1100
        page.goto(server + "/admin/captchala_django/")
    assert fills["light"] != fills["dark"]
