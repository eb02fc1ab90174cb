"""The demo in a real browser: Debian's Chromium driven by Playwright, headless.

Screenshots of each step go to tests/e2e/artifacts/ (ignored by git).
"""

import os
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("CAPTCHALA_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
playwright_api = pytest.importorskip("playwright.sync_api")
if not shutil.which(CHROMIUM):
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1000, "height": 760})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def shot(page, name):
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def pass_check(page):
    """Tick the sandbox's "I am human" box in its overlay and wait for the page to move on."""
    box = page.locator(".captchala-sandbox-overlay .captchala-sandbox-check")
    box.wait_for()
    with page.expect_navigation():
        box.click()  # click, not check(): the page leaves before a checked state is read


def set_mode(page, server, mode):
    page.goto(server + "/sandbox/")
    with page.expect_navigation():
        page.click(f"button[data-mode={mode}]")
    assert page.inner_text("#sandbox-mode") == mode


def login(page, server, name="login"):
    tokens = []
    page.on(
        "request",
        lambda r: tokens.append(r.post_data) if r.method == "POST" and "/login/" in r.url else None,
    )
    page.goto(server + "/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin")
    shot(page, f"{name}-1-form")
    page.click("#login-form button[type=submit]")
    shot(page, f"{name}-2-check")
    pass_check(page)
    return tokens


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
    trail = page.inner_text("body")
    for kind in ("token received", "validate sent", "validate response", "decision"):
        assert kind in trail.lower()
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
