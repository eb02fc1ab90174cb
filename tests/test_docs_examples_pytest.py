"""The pytest examples of the documentation ("Testing your site", docs/guides/testing.md),
as a site's own test module would have them: they run here against the suite's URLconf
(``/login/`` is Django's ``LoginView`` with ``CaptchaLaField(action="login")``, and
``/transfer/`` a view under ``@checkpoint_required``)."""

import pytest


@pytest.mark.django_db
def test_login_passes_the_check(client, django_user_model, captchala_sandbox):
    django_user_model.objects.create_user("alice", password="s3cret-pass!")
    token = captchala_sandbox.mint_pass_token("login")
    data = {"username": "alice", "password": "s3cret-pass!", "captchala_token": token}
    assert client.post("/login/", data).status_code == 302
    assert captchala_sandbox.count("validate") == 1


@pytest.mark.django_db
def test_login_when_captchala_is_down(client, captchala_sandbox):
    captchala_sandbox.set_fault("error")  # or "timeout", "malformed", "drop", "rate_limit", ...
    token = captchala_sandbox.mint_pass_token("login")
    response = client.post("/login/", {"username": "a", "password": "b", "captchala_token": token})
    assert "captcha" in response.context["form"].errors


@pytest.mark.django_db
def test_transfer_takes_the_token_header(client, captchala_sandbox):
    headers = captchala_sandbox.token_header("transfer")
    assert client.post("/transfer/", {"amount": "5"}, **headers).status_code == 200
    assert client.post("/transfer/", {"amount": "6"}).status_code == 200  # the checkpoint holds
    assert captchala_sandbox.count("validate") == 1
