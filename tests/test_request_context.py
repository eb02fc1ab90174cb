"""A form that is not given its request: the field finds it in the request context, and
where there is none it says so on the first render and refuses a POST without a 500."""

import logging

import pytest
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.test import AsyncClient, Client, RequestFactory

from captchala_django.fields import CaptchaLaField
from captchala_django.models import Checkpoint
from tests.helpers import FORGED
from tests.request_context_views import CommentForm
from tests.test_decorators import run_async

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("captchala_sandbox")]

OUR_MIDDLEWARE = "captchala_django.middleware.RequestContextMiddleware"
ALLAUTH_MIDDLEWARE = "allauth.account.middleware.AccountMiddleware"


@pytest.fixture(autouse=True)
def urlconf(settings):
    settings.ROOT_URLCONF = "tests.request_context_urls"


@pytest.fixture
def middleware(settings):
    """The site has added the request-context middleware (at the end of MIDDLEWARE)."""
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, OUR_MIDDLEWARE]


def comment(client, token=None):
    data = {"text": "hello"}
    if token:
        data["captchala_token"] = token
    return client.post("/comment/", data)


def captcha_errors(response):
    return [(e.code, e.message) for e in response.context["form"].errors.as_data()["captcha"]]


# ------------------------------------------------------- under RequestContextMiddleware


@pytest.mark.usefixtures("middleware")
def test_the_first_render_finds_the_request_and_issues_a_server_token():
    response = Client().get("/comment/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-action="comment"' in html
    # A server token is issued only for a request: the widget had one.
    assert 'data-server-token="sct_' in html


@pytest.mark.usefixtures("middleware")
def test_a_good_token_is_accepted_with_one_provider_call(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token("comment")
    response = comment(Client(), token)
    assert response.status_code == 201
    assert captchala_sandbox.calls_for(token) == 1
    row = Checkpoint.objects.get()
    assert row.status == "passed"


@pytest.mark.usefixtures("middleware")
def test_a_made_up_token_is_refused(captchala_sandbox):
    response = comment(Client(), FORGED)
    assert response.status_code == 400
    assert [code for code, _ in captcha_errors(response)] == ["invalid"]
    assert not Checkpoint.objects.filter(status="passed").exists()
    assert captchala_sandbox.calls_for(FORGED) == 1


@pytest.mark.usefixtures("middleware")
def test_a_refused_submission_renders_again_with_its_error():
    """The re-render after a failed check finds the request too (a fresh server token)."""
    response = comment(Client(), FORGED)
    html = response.content.decode()
    assert "The check was not passed. Please try again." in html
    assert 'data-server-token="sct_' in html


# Another thread writes: the test cannot hold its own transaction open.
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("middleware")
def test_an_async_view_finds_the_request(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token("comment")

    async def scenario():
        client = AsyncClient()
        page = await client.get("/async-comment/")
        refused = await client.post("/async-comment/", {"text": "hi", "captchala_token": FORGED})
        accepted = await client.post("/async-comment/", {"text": "hi", "captchala_token": token})
        return page, refused, accepted

    page, refused, accepted = run_async(scenario())
    assert page.status_code == 200 and 'data-server-token="sct_' in page.content.decode()
    assert refused.status_code == 400
    assert accepted.status_code == 201
    assert captchala_sandbox.calls_for(token) == 1


# Another thread writes: the test cannot hold its own transaction open.
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("middleware")
def test_a_sync_view_served_over_asgi_finds_the_request(captchala_sandbox):
    """The middleware runs async there, the view in a worker thread."""
    token = captchala_sandbox.mint_pass_token("comment")

    async def scenario():
        return await AsyncClient().post("/comment/", {"text": "hi", "captchala_token": token})

    assert run_async(scenario()).status_code == 201
    assert captchala_sandbox.calls_for(token) == 1


@pytest.mark.usefixtures("middleware")
@pytest.mark.parametrize("path", ["/sees-itself/", "/async-sees-itself/"])
def test_the_context_holds_the_request_being_served(path):
    assert Client().get(path).json() == {"sees_itself": True}


@pytest.mark.usefixtures("middleware")
def test_the_request_is_forgotten_when_its_response_is_done():
    from captchala_django.middleware import current_request

    client = Client(raise_request_exception=False)
    assert client.get("/sees-itself/").status_code == 200
    assert current_request() is None
    assert client.get("/fails/").status_code == 500
    assert current_request() is None

    async def scenario():
        await AsyncClient().get("/async-sees-itself/")
        return current_request()

    assert run_async(scenario()) is None
    assert current_request() is None


def test_the_form_own_request_comes_before_the_context(settings):
    """``form.request`` is what the form was given: the context never overrides it."""
    from captchala_django.forms import CaptchaLaFormMixin
    from captchala_django.middleware import RequestContextMiddleware

    class Given(CaptchaLaFormMixin, forms.Form):
        captcha = CaptchaLaField(action="comment")

    given = RequestFactory().get("/given/")
    served = RequestFactory().get("/served/")
    seen = {}

    def view(request):
        form = Given(request=given)
        str(form["captcha"])
        seen["widget"] = form.fields["captcha"].widget.request
        return None

    RequestContextMiddleware(view)(served)
    assert seen["widget"] is given


# ------------------------------------------------------- no request anywhere


def test_the_first_render_without_any_request_says_what_to_do():
    with pytest.raises(ImproperlyConfigured) as raised:
        Client().get("/comment/")
    assert OUR_MIDDLEWARE in str(raised.value)
    assert "CaptchaLaFormMixin" in str(raised.value)


def test_a_post_without_any_request_is_refused_without_a_500(captchala_sandbox, caplog):
    token = captchala_sandbox.mint_pass_token("comment")
    with caplog.at_level(logging.ERROR, logger="captchala_django"):
        response = comment(Client(raise_request_exception=False), token)
    assert response.status_code == 400
    assert captcha_errors(response) == [
        ("unavailable", "The check could not be completed right now. Please try again.")
    ]
    # Refused before any provider call, and nothing recorded for anyone.
    assert captchala_sandbox.calls_for(token) == 0
    assert captchala_sandbox.count("validate") == 0
    assert not Checkpoint.objects.exists()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(OUR_MIDDLEWARE in text for text in errors), errors


def test_a_post_without_any_request_or_token_asks_for_the_check():
    response = comment(Client(raise_request_exception=False))
    assert response.status_code == 400
    assert [code for code, _ in captcha_errors(response)] == ["required"]


def test_a_form_without_any_request_skips_its_own_clean(captchala_sandbox):
    class Counted(forms.Form):
        captcha = CaptchaLaField(action="comment")

        def clean(self):
            self.clean_ran = True
            return super().clean()

    form = Counted({"captchala_token": captchala_sandbox.mint_pass_token("comment")})
    assert not form.is_valid()
    assert not hasattr(form, "clean_ran")


# ------------------------------------------------------- the system check


def test_the_check_names_each_form_that_cannot_reach_a_request():
    from captchala_django.middleware import REQUEST_CONTEXT_CHECK_ID, check_request_context
    from tests.forms import AdminLoginForm, ContactForm, LoginForm, ResetForm, SignupForm

    messages = check_request_context()
    flagged = {m.obj for m in messages}
    assert CommentForm in flagged
    # AuthenticationForm subclasses and CaptchaLaFormMixin forms take the request.
    assert not flagged & {LoginForm, AdminLoginForm, ContactForm, ResetForm, SignupForm}
    message = next(m for m in messages if m.obj is CommentForm)
    assert message.id == REQUEST_CONTEXT_CHECK_ID
    assert message.level == logging.WARNING
    assert OUR_MIDDLEWARE in message.hint and "CaptchaLaFormMixin" in message.hint


@pytest.mark.parametrize("entry", [OUR_MIDDLEWARE, ALLAUTH_MIDDLEWARE])
def test_the_check_is_silent_when_a_request_context_is_installed(settings, entry):
    from captchala_django.middleware import check_request_context

    settings.MIDDLEWARE = [*settings.MIDDLEWARE, entry]
    assert check_request_context() == []


# ------------------------------------------------------- django-allauth's stock SignupView


@pytest.fixture
def allauth_site(settings):
    """allauth installed as its docs say, its signup form with a CaptchaLaField; its tables
    made for the test and dropped after (a transactional test: SQLite cannot change its
    schema inside the test's transaction)."""
    pytest.importorskip("allauth")
    from django.apps import apps
    from django.contrib import admin
    from django.db import connection

    settings.MIDDLEWARE = [*settings.MIDDLEWARE, ALLAUTH_MIDDLEWARE]  # before the app: it checks
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "allauth", "allauth.account"]
    settings.ROOT_URLCONF = "tests.allauth_urls"
    settings.ACCOUNT_FORMS = {"signup": "tests.allauth_forms.CaptchaSignupForm"}
    models = list(apps.get_app_config("account").get_models())
    with connection.schema_editor() as editor:
        for model in models:
            editor.create_model(model)
    yield
    with connection.schema_editor() as editor:
        for model in reversed(models):
            editor.delete_model(model)
    for model in models:  # the admin registry outlives the override
        if admin.site.is_registered(model):
            admin.site.unregister(model)


def allauth_signup(client, username, token=None):
    data = {"username": username, "password1": "a-long-pass-123", "password2": "a-long-pass-123"}
    if token:
        data["captchala_token"] = token
    return client.post("/accounts/signup/", data)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("allauth_site")
def test_allauth_signup_finds_the_request_in_allauths_own_context(captchala_sandbox):
    """No middleware of ours: allauth's SignupView does not pass the request to its form."""
    client = Client()
    page = client.get("/accounts/signup/")
    assert page.status_code == 200
    assert 'data-server-token="sct_' in page.content.decode()

    refused = allauth_signup(client, "mallory", FORGED)
    assert refused.status_code == 200
    assert [e.code for e in refused.context["form"].errors.as_data()["captcha"]] == ["invalid"]
    assert not get_user_model().objects.filter(username="mallory").exists()

    token = captchala_sandbox.mint_pass_token("register")
    created = allauth_signup(client, "bob", token)
    assert created.status_code == 302
    assert get_user_model().objects.filter(username="bob").exists()
    assert captchala_sandbox.calls_for(token) == 1
