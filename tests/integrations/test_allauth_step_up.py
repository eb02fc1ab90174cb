"""allauth's login page with ``step_up``: its ``login`` field is the username counted."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from captchala_django.models import AttemptCount
from tests.integrations.test_allauth import ALICE, PASSWORD, password_checks  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("captchala_sandbox")]

REQUIRED = "Please complete the check."


@pytest.fixture(autouse=True)
def step_up_form(settings):
    settings.ACCOUNT_FORMS = {
        **settings.ACCOUNT_FORMS,
        "login": "tests.integrations.allauth_site.forms.StepUpLoginForm",
    }


def guess(password="wrong", token=None, address="203.0.113.9"):
    data = {"login": "alice", "password": password}
    if token:
        data["captchala_token"] = token
    return Client(REMOTE_ADDR=address).post("/accounts/login/", data, REMOTE_ADDR=address)


def test_three_failures_then_the_check_then_a_solve_logs_in(captchala_sandbox, password_checks):  # noqa: F811
    get_user_model().objects.create_user(password=PASSWORD, **ALICE)
    assert "data-captchala" not in Client().get("/accounts/login/").content.decode()
    for _ in range(3):
        assert REQUIRED not in guess().content.decode()
    assert len(password_checks) == 3
    refused = guess(address="198.51.100.1")  # another address: the username's count trips
    assert REQUIRED in refused.content.decode() and len(password_checks) == 3
    token = captchala_sandbox.mint_pass_token("login")
    answer = guess(password=PASSWORD, token=token, address="198.51.100.1")
    assert answer.status_code == 302 and len(password_checks) == 4
    assert AttemptCount.objects.get(kind="username").count == 4  # the success given back
