"""``CAPTCHALA_CONSENT`` in Chromium, under the demo's strict Content-Security-Policy: nothing
of CaptchaLa's is fetched until the visitor consents; then the loader the boot script's own
tag names is loaded, the check runs and the login signs in. Tried as an attacker too:
loader markup anywhere else in the page, added later or in the HTML, is never loaded."""

import pytest

from tests.e2e.browsing import pass_check, shot, wait_until

pytestmark = pytest.mark.e2e
LOADER = "/captchala-sandbox/captchala-loader.js"
EVIL = "/evil-loader.js"


def watched(page):
    fetched, violations = [], []
    page.on("request", lambda r: fetched.append(r.url))
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return fetched, violations


def test_nothing_of_captchala_loads_before_consent_then_the_check_signs_in(page, consent_server):
    fetched, violations = watched(page)
    page.goto(consent_server + "/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin")
    assert page.evaluate("window.CaptchaLaDjango.consented()") is False
    assert not any(LOADER in url for url in fetched)
    shot(page, "consent-1-before")
    page.click("[data-captchala-consent]")
    # The widget has started (the loader loaded, the check bound to the submit button).
    wait_until(page, "!!(window.CaptchaLaDjango.get(document.forms['login-form']) || {}).instance")
    assert any(LOADER in url for url in fetched)
    assert page.locator("[data-captchala-consent]").count() == 0
    page.click("#login-form button[type=submit]")
    shot(page, "consent-2-check")
    pass_check(page)
    assert "Signed in as admin" in page.inner_text("header")
    assert violations == []


def test_loader_markup_added_later_is_never_loaded(page, consent_server):
    """An injected inert tag (an htmx fragment, a stored-XSS snippet) names another script:
    consent loads the page's own loader only."""
    fetched, _ = watched(page)
    page.goto(consent_server + "/login/")
    page.evaluate(
        """(evil) => {
          const injected = document.createElement("script");
          injected.type = "text/plain";
          injected.setAttribute("data-captchala-loader", evil);
          document.body.appendChild(injected);
        }""",
        consent_server + EVIL,
    )
    page.evaluate("window.CaptchaLaDjango.consent()")
    wait_until(page, "typeof window.loadCaptchala === 'function'")
    assert not any(EVIL in url for url in fetched)
    assert sum(LOADER in url for url in fetched) == 1  # the page's own, read at boot


def test_the_consent_event_of_a_banner_starts_the_check(page, consent_server):
    fetched, _ = watched(page)
    page.goto(consent_server + "/login/")
    page.evaluate("document.dispatchEvent(new CustomEvent('captchala:consent'))")
    wait_until(page, "window.CaptchaLaDjango.consented()")
    wait_until(page, "typeof window.loadCaptchala === 'function'")
    assert any(LOADER in url for url in fetched)


def test_loader_markup_in_the_html_without_the_pages_nonce_is_never_loaded(page, consent_server):
    """Markup a stored injection put in the page's own HTML, before the real tag, carries no
    nonce (it cannot know it): the boot script passes it over."""
    fetched, _ = watched(page)

    def inject(route):
        reply = route.fetch()
        html = reply.text().replace(
            "<body",
            f'<script type="text/plain" data-captchala-loader="{consent_server}{EVIL}">'
            "</script><body",
            1,
        )
        route.fulfill(response=reply, body=html)

    page.route("**/login/", inject)
    page.goto(consent_server + "/login/")
    assert page.locator("script[data-captchala-loader]").count() == 2
    with page.expect_request(lambda r: LOADER in r.url):  # the page's own loader
        page.evaluate("window.CaptchaLaDjango.consent()")
    assert not any(EVIL in url for url in fetched)
