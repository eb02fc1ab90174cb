"""Pages that are not plain forms, in a real browser: the demo's htmx page (htmx 2 as
django-htmx ships it) and its page that renders itself (fetch + JSON, the JavaScript API).

Each first request of a session is stopped by ``checkpoint_required``; the check is shown
from the answer and the request goes through once the check is passed, exactly once.
"""

import json

import pytest

from tests.e2e.browsing import set_mode, shot

pytestmark = pytest.mark.e2e

CHECK = ".captchala-sandbox-check"


def answers(page, path):
    """The statuses of the responses to ``path``, in order, and the requests' headers."""
    seen = []
    page.on(
        "response",
        lambda r: seen.append((r.status, r.request.headers)) if r.url.endswith(path) else None,
    )
    return seen


def sandbox_mode(page, server, mode):
    """Switch the sandbox from another tab of the same browser, leaving ``page`` where it is."""
    other = page.context.new_page()
    set_mode(other, server, mode)
    other.close()


def tick(page, scope):
    box = page.locator(f"{scope} {CHECK}")
    box.wait_for()
    box.click()


def test_htmx_request_shows_the_check_then_goes_through_once(page, module_demo_server):
    server = module_demo_server
    sandbox_mode(page, server, "none")
    seen = answers(page, "/htmx/transfer/")
    page.goto(server + "/htmx/")
    page.fill("#htmx-amount", "42")
    page.click("#htmx-form button[type=submit]")
    dialog = page.locator("dialog.captchala-dialog")
    dialog.wait_for()
    assert "Please complete the check to continue." in dialog.inner_text()
    assert page.locator("#htmx-result").inner_text() == ""  # nothing swapped in
    page.locator(f"dialog.captchala-dialog {CHECK}").wait_for()
    shot(page, "htmx-1-check")
    tick(page, "dialog.captchala-dialog")
    page.locator("#htmx-done").wait_for()
    assert "Transfer of 42 sent" in page.inner_text("#htmx-result")
    assert page.locator("dialog.captchala-dialog").count() == 0
    assert [status for status, _ in seen] == [403, 200]
    assert seen[1][1]["x-captchala-token"].startswith("pt_")
    assert "x-captchala-token" not in seen[0][1]
    shot(page, "htmx-2-sent")

    # The session's checkpoint carries the next one: no check, one request.
    page.fill("#htmx-amount", "43")
    page.click("#htmx-form button[type=submit]")
    page.wait_for_function("document.querySelector('#htmx-done').innerText.includes('43')")
    assert [status for status, _ in seen] == [403, 200, 200]
    assert page.locator("dialog.captchala-dialog").count() == 0


def test_htmx_outage_offers_a_retry_that_asks_again(page, module_demo_server):
    server = module_demo_server
    sandbox_mode(page, server, "validate_error")
    try:
        seen = answers(page, "/htmx/transfer/")
        page.goto(server + "/htmx/")
        page.click("#htmx-form button[type=submit]")
        tick(page, "dialog.captchala-dialog")
        retry = page.locator("dialog.captchala-dialog [data-captchala-dialog=retry]")
        retry.wait_for()
        assert "could not be completed right now" in page.inner_text("dialog.captchala-dialog")
        assert retry.inner_text() == "Try again"
        shot(page, "htmx-3-outage")
        assert [status for status, _ in seen] == [403, 503]
    finally:
        sandbox_mode(page, server, "none")
    retry.click()
    tick(page, "dialog.captchala-dialog")
    page.locator("#htmx-done").wait_for()
    assert [status for status, _ in seen] == [403, 503, 403, 200]


def test_a_form_swapped_in_by_htmx_starts_its_own_check(page, module_demo_server):
    server = module_demo_server
    sandbox_mode(page, server, "none")
    seen = answers(page, "/htmx/comment/")
    page.goto(server + "/htmx/")
    page.click("#htmx-load")
    widget = page.locator("#comment-form [data-captchala][data-captchala-ready]")
    widget.wait_for(state="attached")
    page.fill("#comment-form [name=text]", "Hello from htmx")
    page.click("#comment-form button[type=submit]")  # the bound button opens the check
    tick(page, ".captchala-sandbox-overlay")
    page.locator("#comment-done").wait_for()
    assert page.inner_text("#comment-done") == "Comment posted: Hello from htmx"
    posts = [headers for status, headers in seen if status == 200 and "hx-request" in headers]
    assert len(posts) == 2  # the GET of the form, then one POST
    shot(page, "htmx-4-swapped-form")


def test_a_page_that_renders_itself_passes_fails_and_retries(page, module_demo_server):
    server = module_demo_server
    sandbox_mode(page, server, "none")
    seen = answers(page, "/spa/transfer/")
    spoiled = []

    def spoil_first_token(route):
        """The first pass token the page sends is swapped for a made-up one: refused."""
        body = json.loads(route.request.post_data or "{}")
        if "captchala_token" in body and not spoiled:
            spoiled.append(body["captchala_token"])
            body["captchala_token"] = "pt_made_up_in_transit_" + "x" * 20
            route.continue_(post_data=json.dumps(body))
        else:
            route.continue_()

    page.route("**/spa/transfer/", spoil_first_token)
    page.goto(server + "/spa/")
    page.fill("#spa-amount", "7")
    page.click("#spa-form button[type=submit]")
    tick(page, "#spa-check")
    page.wait_for_function("document.querySelector('#spa-status').innerText.includes('not passed')")
    # Refused: the widget was reset for a new check (a token is single-use).
    box = page.locator(f"#spa-check {CHECK}")
    assert not box.is_checked() and box.is_enabled()
    shot(page, "spa-1-refused")
    box.click()
    page.wait_for_function("document.querySelector('#spa-status').innerText.includes('sent')")
    assert "Transfer of 7 sent" in page.inner_text("#spa-status")
    assert [status for status, _ in seen] == [403, 403, 200]
    assert page.locator(f"#spa-check {CHECK}").count() == 0  # the widget is gone
    shot(page, "spa-2-sent")


def test_a_page_that_renders_itself_through_an_outage(page, module_demo_server):
    server = module_demo_server
    sandbox_mode(page, server, "validate_error")
    try:
        seen = answers(page, "/spa/transfer/")
        page.goto(server + "/spa/")
        page.click("#spa-form button[type=submit]")
        tick(page, "#spa-check")
        page.locator("#spa-retry").wait_for()
        assert "could not be completed right now" in page.inner_text("#spa-status")
        shot(page, "spa-3-outage")
    finally:
        sandbox_mode(page, server, "none")
    page.click("#spa-retry")
    page.wait_for_function("document.querySelector('#spa-status').innerText.includes('Please')")
    box = page.locator(f"#spa-check {CHECK}")
    assert not box.is_checked()
    box.click()
    page.wait_for_function("document.querySelector('#spa-status').innerText.includes('sent')")
    assert [status for status, _ in seen] == [403, 503, 403, 200]


def test_two_widgets_on_one_page_each_give_their_own_token(page, module_demo_server):
    server = module_demo_server
    sandbox_mode(page, server, "none")
    page.goto(server + "/spa/")
    page.evaluate(
        """async () => {
          const reply = await (await fetch("/spa/transfer/", {method: "POST",
            headers: {"Accept": "application/json",
                      "X-CSRFToken": document.querySelector("[name=csrfmiddlewaretoken]").value},
            body: "{}"})).json();
          window.got = [];
          for (const id of ["one", "two"]) {
            const el = document.createElement("div");
            el.id = id;
            document.querySelector("main").appendChild(el);
            const widget = CaptchaLaDjango.render(el, reply.captcha);
            window[id] = widget;
            widget.token().then(token => window.got.push([id, token]));
          }
        }"""
    )
    tick(page, "#two")
    page.wait_for_function("window.got.length === 1")
    tick(page, "#one")
    page.wait_for_function("window.got.length === 2")
    got = dict(page.evaluate("window.got"))
    assert got["one"].startswith("pt_") and got["two"].startswith("pt_")
    assert got["one"] != got["two"]
    # Reset: the next token() waits for a new check, then gives a new token.
    page.evaluate(
        "() => { window.one.reset(); window.one.token().then(t => window.got.push(['again', t])); }"
    )
    assert page.evaluate("window.got.length") == 2
    tick(page, "#one")
    page.wait_for_function("window.got.length === 3")
    again = page.evaluate("window.got[2][1]")
    assert again.startswith("pt_") and again not in got.values()
