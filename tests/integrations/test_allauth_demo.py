"""The example project with django-allauth (``example_project.settings_allauth``), served by
runserver in a subprocess as a user would run it: allauth's pages take the check, and a
token from the demo's own sandbox gets a user in."""

import re

import pytest
import requests

from tests.demo_server import serve_demo

SETTINGS = "example_project.settings_allauth"
PAGES = {
    "/accounts/login/": "login",
    "/accounts/signup/": "register",
    "/accounts/password/reset/": "lost_password",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    yield from serve_demo(tmp_path_factory.mktemp("allauth-demo"), DJANGO_SETTINGS_MODULE=SETTINGS)


def mint(demo: str, action: str) -> str:
    """A pass token from the sandbox the demo mounts, as its browser check would get one."""
    minted = requests.post(
        demo + "/captchala-sandbox/sandbox/mint", json={"action": action}, timeout=10
    )
    return minted.json()["data"]["token"]


def signed_in_as(session: requests.Session, demo: str) -> str | None:
    """Who the demo's home page says is signed in."""
    found = re.search(r"Signed in as (\S+?)<", session.get(demo + "/", timeout=10).text)
    return found and found.group(1)


def post(session: requests.Session, demo: str, path: str, data: dict) -> requests.Response:
    """A browser's POST of the form at ``path``: its page first, for the CSRF cookie."""
    session.get(demo + path, timeout=10)
    data = {**data, "csrfmiddlewaretoken": session.cookies["csrftoken"]}
    return session.post(demo + path, data=data, timeout=10, allow_redirects=False)


@pytest.mark.parametrize("path", PAGES)
def test_allauths_pages_render_the_check(demo, path):
    page = requests.get(demo + path, timeout=10)
    assert page.status_code == 200
    assert "data-captchala" in page.text and f'data-action="{PAGES[path]}"' in page.text
    assert 'data-server-token="sct_' in page.text  # issued by the demo's sandbox


def test_a_sandbox_token_logs_the_demo_admin_in(demo):
    session = requests.Session()
    login = {"login": "admin", "password": "admin"}
    refused = post(session, demo, "/accounts/login/", login)
    assert refused.status_code == 200 and "Please complete the check." in refused.text
    assert signed_in_as(session, demo) is None
    done = post(
        session, demo, "/accounts/login/", {**login, "captchala_token": mint(demo, "login")}
    )
    assert done.status_code == 302 and done.headers["Location"] == "/"
    assert signed_in_as(session, demo) == "admin"


def test_a_sandbox_token_signs_a_user_up(demo):
    session = requests.Session()
    signup = {
        "username": "newcomer",
        "email": "newcomer@example.com",
        "password1": "a-long-pass-123",
        "password2": "a-long-pass-123",
        "captchala_token": "pt_made-up-token",
    }
    refused = post(session, demo, "/accounts/signup/", signup)
    assert refused.status_code == 200
    assert "The check was not passed. Please try again." in refused.text
    assert signed_in_as(session, demo) is None
    signup["captchala_token"] = mint(demo, "register")
    done = post(session, demo, "/accounts/signup/", signup)
    assert done.status_code == 302
    assert signed_in_as(session, demo) == "newcomer"


def test_a_sandbox_token_sends_the_reset_mail(demo):
    session = requests.Session()
    data = {"email": "admin@example.com"}
    refused = post(session, demo, "/accounts/password/reset/", data)
    assert refused.status_code == 200 and "Please complete the check." in refused.text
    token = mint(demo, "lost_password")
    done = post(session, demo, "/accounts/password/reset/", {**data, "captchala_token": token})
    assert done.status_code == 302
    assert done.headers["Location"] == "/accounts/password/reset/done/"
