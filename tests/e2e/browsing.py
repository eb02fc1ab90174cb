"""What the browser tests share: Chromium's whereabouts, screenshots and the demo's steps.

Importing this module skips the importing test module when Playwright or Chromium is
missing (the cells without the browser), as a module-level skip would.
"""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CAPTCHALA_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


pytest.importorskip("playwright.sync_api")
if not shutil.which(CHROMIUM):
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)


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


def wait_until(page, condition, seconds=15):
    """Wait, at most ``seconds``, for the page's JavaScript ``condition`` (an expression) to be
    true, checked on each animation frame. The condition is written into the function the
    test runs (compiled by the browser's devtools, not by the page): unlike
    ``wait_for_function``, nothing is evaluated from a string in the page, which a strict CSP
    without ``unsafe-eval`` refuses."""
    met = page.evaluate(
        f"""() => new Promise((resolve) => {{
          const deadline = performance.now() + {seconds * 1000};
          const tick = () => {{
            if ({condition}) {{ resolve(true); }}
            else if (performance.now() > deadline) {{ resolve(false); }}
            else {{ requestAnimationFrame(tick); }}
          }};
          tick();
        }})"""
    )
    assert met, f"not true within {seconds} s: {condition}"
