"""``CAPTCHALA_CONSENT`` tried as a hostile page would, in Chromium under the demo's strict
Content-Security-Policy: markup injected into the page's HTML (it cannot know the nonce)
must never get a script of its choosing run with the page's nonce, never give consent, and
never switch the check off."""

import pytest

pytestmark = pytest.mark.e2e
LOADER = "/captchala-sandbox/captchala-loader.js"
BOOT_TAG = '<script src="/static/captchala_django/captchala-boot.js"'
EVIL = "https://evil.invalid/steal.js"


def injected(page, path, edit):
    """Serve ``path`` with its HTML changed by ``edit``: an HTML injection, markup only."""

    def route(r):
        reply = r.fetch()
        html = reply.text()
        assert BOOT_TAG in html
        r.fulfill(response=reply, body=edit(html))

    page.route("**" + path, route)
    page.route(
        "https://evil.invalid/**",
        lambda r: r.fulfill(body="window.pwned = true;", content_type="application/javascript"),
    )


DANGLING = {
    # Right before the boot script's tag: its text becomes attributes of the injected one.
    "adjacent": lambda html: html.replace(
        BOOT_TAG, f'<script src="{EVIL}" data-captchala-loader="{EVIL}" ' + BOOT_TAG, 1
    ),
    # An open quote swallowing markup up to the boot script's tag.
    "quote-swallow": lambda html: html.replace(
        BOOT_TAG, f'<script type="text/plain" data-captchala-loader="{EVIL}" x="\n' + BOOT_TAG, 1
    ),
    # A second boot-script-looking tag of the attacker's, before the real one.
    "fake-boot": lambda html: html.replace(
        BOOT_TAG,
        f'<script type="text/plain" src="x" data-captchala-loader="{EVIL}"></script>' + BOOT_TAG,
        1,
    ),
}


@pytest.mark.parametrize("how", sorted(DANGLING))
def test_injected_markup_never_runs_a_script_with_the_pages_nonce(page, consent_server, how):
    fetched = []
    page.on("request", lambda r: fetched.append(r.url))
    injected(page, "/login/", DANGLING[how])
    page.goto(consent_server + "/login/")
    booted = page.evaluate("!!(window.CaptchaLaDjango && window.CaptchaLaDjango.__captchala)")
    if booted:  # the boot script ran: consent loads the loader its own tag named
        with page.expect_request(lambda r: LOADER in r.url):
            page.evaluate("window.CaptchaLaDjango.consent()")
    # Either way, the attacker's script never ran.
    assert page.evaluate("window.pwned === undefined")
    if how != "adjacent":  # (a live <script src> the injection wrote may be fetched by the
        # browser's preload scanner, and is then refused: that request is not ours)
        assert not any("evil.invalid" in url for url in fetched)


def test_consent_is_given_only_by_the_widgets_own_button(page, consent_server):
    """An injected element carrying data-captchala-consent (a "Read more" link a sanitiser
    kept) is not a consent button; a script's click() is not the visitor's."""
    injected(
        page,
        "/login/",
        lambda html: html.replace(
            "<main", '<p><a href="#more" data-captchala-consent>Read more</a></p><main', 1
        ),
    )
    page.goto(consent_server + "/login/")
    page.click("a[href='#more']")
    assert page.evaluate("window.CaptchaLaDjango.consented()") is False
    page.evaluate("document.querySelector('button[data-captchala-consent]').click()")
    assert page.evaluate("window.CaptchaLaDjango.consented()") is False  # not isTrusted
    with page.expect_request(lambda r: LOADER in r.url):
        page.click("button[data-captchala-consent]")  # the visitor, on the widget's button
    assert page.evaluate("window.CaptchaLaDjango.consented()") is True


def test_an_element_named_like_the_api_does_not_turn_the_check_off(page, consent_server):
    """DOM clobbering: <p id="CaptchaLaDjango"> makes window.CaptchaLaDjango truthy before the
    boot script runs; the boot script still starts, and the banner's consent() works."""
    injected(
        page, "/login/", lambda html: html.replace("<main", '<p id="CaptchaLaDjango"></p><main', 1)
    )
    page.goto(consent_server + "/login/")
    assert page.evaluate("typeof window.CaptchaLaDjango.consent") == "function"
