"""The browser fixtures of every e2e module: one headless Chromium per module, a page per test."""

import pytest

try:
    from tests.e2e import browsing
except pytest.skip.Exception as missing:  # no Playwright or no Chromium: the cells without it
    browsing = None
    MISSING = str(missing)


@pytest.fixture(scope="module")
def browser():
    if browsing is None:
        pytest.skip(MISSING)
    from playwright.sync_api import sync_playwright

    browsing.ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browsing.CHROMIUM, args=browsing.CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1000, "height": 760})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture(scope="module")
def consent_server(tmp_path_factory):
    """The demo asking for consent (CAPTCHALA_CONSENT) under its strict CSP."""
    from tests.demo_server import serve_demo

    yield from serve_demo(
        tmp_path_factory.mktemp("consent"), DEMO_CSP="1", CAPTCHALA_CONSENT="true"
    )
