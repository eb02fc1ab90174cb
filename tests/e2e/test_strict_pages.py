"""The pages a site shows around the check, under a strict Content-Security-Policy and an
accessibility audit, in Chromium: the login page and its check, the challenge page, the
try-again page, the admin login and the dashboard.

Two demo servers, both with ``DEMO_CSP=1``: the demo as it is (its own challenge and try-again
pages) and the demo with ``DEMO_PACKAGE_PAGES=1``, which serves the package's own pages, what
every site shows until it overrides them. Screenshots go to tests/e2e/artifacts/.
"""

import pytest

from tests.demo_server import serve_demo
from tests.e2e.browsing import pass_check, set_mode, shot

pytestmark = pytest.mark.e2e

#: Every violation of the page's policy, as the browser reports it to the page.
WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(
    `${e.effectiveDirective} blocked ${e.blockedURI || "?"} at ${e.sourceFile}:${e.lineNumber}`
    + ` (${e.sample})`
  );
});
"""


@pytest.fixture(scope="module")
def csp_server(tmp_path_factory):
    yield from serve_demo(tmp_path_factory.mktemp("csp"), DEMO_CSP="1")


@pytest.fixture(scope="module")
def package_server(tmp_path_factory):
    yield from serve_demo(tmp_path_factory.mktemp("package"), DEMO_CSP="1", DEMO_PACKAGE_PAGES="1")


@pytest.fixture(params=["demo", "package"])
def server(request):
    """Each demo server: the demo's own challenge pages, then the package's."""
    return request.getfixturevalue(
        {"demo": "csp_server", "package": "package_server"}[request.param]
    )


class Watched:
    """A page whose policy violations are collected, from the page and from the console."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport={"width": 1000, "height": 760})
        self.context.add_init_script(WATCH_VIOLATIONS)
        self.page = self.context.new_page()
        self.page.set_default_timeout(15000)
        self.console = []
        self.page.on(
            "console",
            lambda m: self.console.append(m.text) if "Content Security Policy" in m.text else None,
        )

    def assert_clean(self):
        """No violation on the page shown now (nor on any before it, in the console)."""
        where = self.page.url
        assert self.page.evaluate("window.__cspViolations") == [], where
        assert self.console == [], where


@pytest.fixture
def watched(browser):
    watched = Watched(browser)
    yield watched
    watched.context.close()


def strict_policy(response) -> dict[str, list[str]]:
    """The response's policy, by directive, after checking that it is strict."""
    header = response.headers.get("content-security-policy")
    assert header, f"no Content-Security-Policy on {response.url}"
    assert "unsafe-" not in header, header  # unsafe-inline, unsafe-eval, unsafe-hashes
    policy = {name: values for name, *values in (p.split() for p in header.split(";") if p.strip())}
    assert policy["default-src"] == ["'self'"], header
    for name in ("script-src", "style-src"):
        assert "'self'" in policy[name], header
        assert all(v == "'self'" or v.startswith("'nonce-") for v in policy[name]), header
    return policy


def nonce_of(policy) -> str:
    nonces = [v[len("'nonce-") : -1] for v in policy["script-src"] if v.startswith("'nonce-")]
    assert len(nonces) == 1, f"no nonce in the policy (nothing read it): {policy['script-src']}"
    assert f"'nonce-{nonces[0]}'" in policy["style-src"]
    return nonces[0]


def assert_widget_scripts_carry(page, policy):
    """The widget's loader and boot script are on the page, each with the policy's nonce."""
    scripts = page.locator("script[src*=captchala]")
    assert scripts.count() == 2
    # A browser hides a nonce attribute once it is read; the property keeps it.
    found = [scripts.nth(i).evaluate("e => e.nonce") for i in range(2)]
    assert all(found), "the widget wrote its scripts without the request's nonce"
    assert found == [nonce_of(policy)] * 2


def goto(page, url):
    response = page.goto(url)
    assert response is not None
    return response


def submit(page, selector):
    """Click a submit button of a form that leaves at once; the response it leads to."""
    with page.expect_navigation() as navigation:
        page.click(selector)
    return navigation.value


def open_check(watched, selector):
    """Click the submit button the widget is bound to: the sandbox's check overlay opens."""
    watched.page.click(selector)
    watched.page.locator(".captchala-sandbox-overlay .captchala-sandbox-check").wait_for()
    watched.assert_clean()


def sign_in(watched, server, name):
    page = watched.page
    policy = strict_policy(goto(page, server + "/login/"))
    assert_widget_scripts_carry(page, policy)
    watched.assert_clean()
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin")
    open_check(watched, "#login-form button[type=submit]")
    shot(page, f"{name}-login-check")
    pass_check(page)


def test_login_page_and_its_check_break_no_policy(watched, csp_server):
    """/login/ with the widget, its check overlay and the page after it: no violation."""
    page = watched.page
    set_mode(page, csp_server, "none")
    watched.assert_clean()
    sign_in(watched, csp_server, "csp")
    assert "Signed in as admin" in page.inner_text("header")
    strict_policy(goto(page, page.url))
    watched.assert_clean()


def test_challenge_and_try_again_pages_break_no_policy(watched, server):
    """The challenge page (403) and its check, the page after it, then the try-again page (503)
    and the login form's own "try again": no violation, on the demo's pages and the package's."""
    page = watched.page
    set_mode(page, server, "none")
    sign_in(watched, server, "csp-challenge")

    goto(page, server + "/transfer/")
    page.fill("#id_amount", "250")
    challenge = submit(page, "#transfer-form button[type=submit]")
    assert challenge.status == 403
    assert "Quick check" in page.inner_text("main")
    assert_widget_scripts_carry(page, strict_policy(challenge))
    watched.assert_clean()
    open_check(watched, "main form button[type=submit]")
    pass_check(page)
    assert page.inner_text("h1") == "Transfer sent"
    watched.assert_clean()

    # The try-again page: a new session signs in, then the provider cannot validate its pass.
    page.context.clear_cookies()
    sign_in(watched, server, "csp-try-again")
    set_mode(page, server, "validate_error")
    try:
        goto(page, server + "/transfer/")
        submit(page, "#transfer-form button[type=submit]")
        open_check(watched, "main form button[type=submit]")
        with page.expect_navigation() as navigation:
            page.locator(".captchala-sandbox-overlay .captchala-sandbox-check").click()
        assert navigation.value.status == 503
        strict_policy(navigation.value)
        assert "Please try again" in page.inner_text("h1")
        shot(page, "csp-try-again-503")
        watched.assert_clean()

        # The login form's own "try again", in another new session.
        page.context.clear_cookies()
        goto(page, server + "/login/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "admin")
        open_check(watched, "#login-form button[type=submit]")
        pass_check(page)
        assert "The check could not be completed right now." in page.inner_text("main")
        strict_policy(goto(page, page.url))
        watched.assert_clean()
    finally:
        set_mode(page, server, "none")


def test_admin_login_and_dashboard_break_no_policy(watched, csp_server):
    """The admin login with the check, then the package's dashboard and its read-only admin
    pages (light and dark): no violation. The dashboard has no script, so its policy
    needs no nonce (Django and django-csp add one only when a page reads it)."""
    page = watched.page
    set_mode(page, csp_server, "none")
    login = goto(page, csp_server + "/admin/login/?next=/admin/captchala_django/")
    assert_widget_scripts_carry(page, strict_policy(login))
    watched.assert_clean()
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin")
    open_check(watched, "#login-form [type=submit]")
    pass_check(page)
    assert page.url.endswith("/admin/captchala_django/")
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        strict_policy(goto(page, csp_server + "/admin/captchala_django/"))
        assert page.locator(".captchala-dashboard svg[role=img]").count() == 6
        watched.assert_clean()
        strict_policy(goto(page, csp_server + "/admin/captchala_django/checkpoint/"))
        watched.assert_clean()
        with page.expect_navigation() as navigation:
            page.click("#result_list tbody tr th a")
        strict_policy(navigation.value)
        assert page.inner_text("#content h1") == "View checkpoint"
        watched.assert_clean()


def test_htmx_and_self_rendering_pages_break_no_policy(browser, watched, csp_server):
    """The htmx page (its check in the boot script's dialog, the re-sent request, a form
    swapped in with its widget) and the page that renders itself: no violation."""
    page = watched.page
    set_mode(page, csp_server, "none")
    strict_policy(goto(page, csp_server + "/htmx/"))
    page.click("#htmx-form button[type=submit]")
    page.locator("dialog.captchala-dialog .captchala-sandbox-check").click()
    page.locator("#htmx-done").wait_for()
    watched.assert_clean()
    page.click("#htmx-load")
    page.locator("#comment-form [data-captchala][data-captchala-ready]").wait_for(state="attached")
    page.fill("#comment-form [name=text]", "Under a strict policy")
    open_check(watched, "#comment-form button[type=submit]")
    page.locator(".captchala-sandbox-overlay .captchala-sandbox-check").click()
    page.locator("#comment-done").wait_for()
    watched.assert_clean()

    spa = Watched(browser)  # a new session: the first one's checkpoint would carry it
    try:
        strict_policy(goto(spa.page, csp_server + "/spa/"))
        spa.page.click("#spa-form button[type=submit]")
        spa.page.locator("#spa-check .captchala-sandbox-check").click()
        # A locator, not wait_for_function: the policy forbids the eval that one needs.
        spa.page.locator("#spa-status", has_text="sent").wait_for()
        spa.assert_clean()
    finally:
        spa.context.close()


SCHEMES = ("light", "dark")


def audit(page, name) -> list[str]:
    """axe-core's serious and critical findings on the page, in the light and dark colour
    schemes (a screenshot of each); the page is not reloaded, so a POST's answer can be
    audited too."""
    from axe_playwright_python.sync_playwright import Axe

    found = []
    for scheme in SCHEMES:
        page.emulate_media(color_scheme=scheme)
        shot(page, f"a11y-{name}-{scheme}")
        results = Axe().run(page)
        found += [
            f"{scheme} {v['impact']} {v['id']}: {v['help']} at "
            + ", ".join(str(node["target"]) for node in v["nodes"])
            for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")
        ]
    page.emulate_media(color_scheme="light")
    return found


def test_login_challenge_and_try_again_pages_pass_the_audit(request, page, server):
    """No serious or critical accessibility finding on the login page, the challenge page and
    the try-again page, light and dark: the demo's pages and the package's own."""
    kind = request.node.callspec.params["server"]
    found = {}
    set_mode(page, server, "none")
    goto(page, server + "/login/")
    found["login"] = audit(page, f"{kind}-login")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin")
    page.click("#login-form button[type=submit]")
    pass_check(page)

    goto(page, server + "/transfer/")
    submit(page, "#transfer-form button[type=submit]")
    assert "Quick check" in page.inner_text("h1")
    found["challenge"] = audit(page, f"{kind}-challenge")

    # The try-again page: the provider cannot validate the pass of the challenge page.
    set_mode(page, server, "validate_error")
    try:
        goto(page, server + "/transfer/")
        submit(page, "#transfer-form button[type=submit]")
        page.click("main form button[type=submit]")
        pass_check(page)
        assert "Please try again" in page.inner_text("h1")
        found["try-again"] = audit(page, f"{kind}-try-again")
    finally:
        set_mode(page, server, "none")
    assert found == {"login": [], "challenge": [], "try-again": []}


def test_admin_login_and_dashboard_pass_the_audit(page, csp_server):
    """No serious or critical accessibility finding on the admin login (with the check) and
    the package's dashboard, light and dark."""
    found = {}
    set_mode(page, csp_server, "none")
    goto(page, csp_server + "/admin/login/?next=/admin/captchala_django/")
    found["admin-login"] = audit(page, "admin-login")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin")
    page.click("#login-form [type=submit]")
    pass_check(page)
    assert page.url.endswith("/admin/captchala_django/")
    found["dashboard"] = audit(page, "dashboard")
    assert found == {"admin-login": [], "dashboard": []}
