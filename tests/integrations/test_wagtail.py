"""Wagtail's form builder with ``CaptchaLaFormPageMixin``: a real Wagtail site, built in
each test (the root page its migrations create, a form page under it with the fields an
editor adds, a Site pointing at it), served and administered through the test client.

First what a bot tries, then what a person gets and what the token must never reach
(stored submissions, the listing and its CSV export, notification e-mails), then the page
classes refused when defined, then the admin editing the page.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from django import forms
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, RequestFactory
from wagtail.contrib.forms.models import FormMixin, FormSubmission
from wagtail.models import Page, Site
from wagtail.test.utils.form_data import querydict_from_html

from captchala_django.contrib.wagtail import CaptchaLaFormPageMixin
from captchala_django.exceptions import RequestRequired
from tests.helpers import FORGED
from tests.integrations.wagtail_site.models import (
    ContactFormField,
    ContactPage,
    QuoteFormField,
    QuotePage,
)

TOKEN_FIELD = "captchala_token"
PLEASE_COMPLETE = "Please complete the check."
NOT_PASSED = "The check was not passed. Please try again."
THANKS = "Thanks, we will reply soon."
FILLED = {"name": "Ada Lovelace", "email": "ada@example.com", "message": "Hello there"}


def _site_with(page: Page) -> Page:
    """``page`` under the root page Wagtail's migrations create, served as the site."""
    Page.get_first_root_node().add_child(instance=page)
    Site.objects.all().delete()
    Site.objects.create(hostname="testserver", root_page=page, is_default_site=True)
    return page


@pytest.fixture
def contact_page(db: Any) -> ContactPage:
    """A contact page as an editor makes it: three form fields and an address to mail."""
    page = _site_with(
        ContactPage(
            title="Contact us",
            slug="contact",
            to_address="team@example.com",
            from_address="site@example.com",
            subject="New message",
            thank_you_text=THANKS,
        )
    )
    for order, (label, kind) in enumerate(
        [("Name", "singleline"), ("Email", "email"), ("Message", "multiline")]
    ):
        ContactFormField.objects.create(page=page, sort_order=order, label=label, field_type=kind)
    return page


@pytest.fixture
def quote_page(db: Any) -> QuotePage:
    """A page type with its own action (``checkout``) and field name (``human_check``)."""
    page = _site_with(QuotePage(title="Get a quote", slug="quote"))
    QuoteFormField.objects.create(page=page, sort_order=0, label="Company", field_type="singleline")
    return page


@pytest.fixture
def admin_client(client: Any, db: Any) -> Any:
    user = get_user_model().objects.create_superuser("editor", "editor@example.com", "pw")
    client.force_login(user)
    return client


def _refused(response: Any, message: str, stored: int = 0) -> None:
    """The page again, with the form, what was typed and the check's error; no new
    submission (``stored``: how many there were before)."""
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "wagtail_site/contact_page.html"
    form = response.context["form"]
    assert form.errors == {"captchala": [message]}
    html = response.content.decode()
    assert message in html
    assert 'value="Ada Lovelace"' in html  # what the person typed is kept
    assert f'name="{TOKEN_FIELD}"' in html  # and a new check is offered
    assert FormSubmission.objects.count() == stored


# ------------------------------------------------------------------ what a bot tries


def test_no_token_is_a_form_error(client, contact_page, captchala_sandbox, mailoutbox):
    response = client.post(contact_page.url, FILLED)
    _refused(response, PLEASE_COMPLETE)
    assert mailoutbox == []
    assert captchala_sandbox.count("validate") == 0


def test_an_empty_post_is_the_checks_error_alone(client, contact_page, captchala_sandbox):
    """A failed check is the only answer (the other fields are judged once it passes)."""
    response = client.post(contact_page.url, {})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"captchala"}
    assert response.context["form"].errors["captchala"] == [PLEASE_COMPLETE]
    assert FormSubmission.objects.count() == 0
    assert captchala_sandbox.count("validate") == 0


def test_a_made_up_token_is_refused_by_the_provider(
    client, contact_page, captchala_sandbox, mailoutbox
):
    response = client.post(contact_page.url, {**FILLED, TOKEN_FIELD: FORGED})
    _refused(response, NOT_PASSED)
    assert captchala_sandbox.calls_for(FORGED) == 1
    assert mailoutbox == []


@pytest.mark.parametrize("replayer", ["same client", "another client"])
def test_a_replayed_token_submits_nothing_more(
    client, contact_page, captchala_sandbox, mailoutbox, replayer
):
    token = captchala_sandbox.mint_pass_token("contact_form")
    first = client.post(contact_page.url, {**FILLED, TOKEN_FIELD: token})
    assert THANKS in first.content.decode()
    other = client if replayer == "same client" else Client(REMOTE_ADDR="198.51.100.9")
    _refused(other.post(contact_page.url, {**FILLED, TOKEN_FIELD: token}), NOT_PASSED, stored=1)
    assert len(mailoutbox) == 1
    assert captchala_sandbox.calls_for(token) == 1  # the replay is refused without a call


def test_a_token_solved_for_another_action_is_refused(
    client, contact_page, captchala_sandbox, mailoutbox
):
    token = captchala_sandbox.mint_pass_token("login")
    _refused(client.post(contact_page.url, {**FILLED, TOKEN_FIELD: token}), NOT_PASSED)
    assert mailoutbox == []
    assert captchala_sandbox.calls_for(token) == 1


@pytest.mark.parametrize(
    ("tokens", "error"),
    [
        pytest.param(
            lambda s: [s.mint_pass_token("contact_form")] * 2, NOT_PASSED, id="one-token-twice"
        ),
        pytest.param(
            lambda s: [s.mint_pass_token("contact_form"), s.mint_pass_token("contact_form")],
            NOT_PASSED,
            id="two-good-tokens",
        ),
        pytest.param(lambda s: ["pt_" + "a" * 100_000], NOT_PASSED, id="huge"),
        pytest.param(lambda s: ["pt_\u00e9t\u00e9\n<script>"], NOT_PASSED, id="not-ascii"),
        pytest.param(lambda s: ["captchala-receipt:staff"], PLEASE_COMPLETE, id="wizard-receipt"),
        pytest.param(lambda s: ["captchala-receipt:x"], PLEASE_COMPLETE, id="made-up-receipt"),
    ],
)
def test_odd_token_values_are_a_form_error_never_a_500(
    client, contact_page, captchala_sandbox, mailoutbox, tokens, error
):
    response = client.post(contact_page.url, {**FILLED, TOKEN_FIELD: tokens(captchala_sandbox)})
    _refused(response, error)
    assert mailoutbox == []
    # Refused before the provider is asked: no token was spent.
    assert captchala_sandbox.count("validate") == 0


def test_a_token_in_the_header_is_not_read_by_the_form(client, contact_page, captchala_sandbox):
    """A form reads its token from the body only; the header's token stays unspent."""
    token = captchala_sandbox.mint_pass_token("contact_form")
    response = client.post(contact_page.url, FILLED, HTTP_X_CAPTCHALA_TOKEN=token)
    _refused(response, PLEASE_COMPLETE)
    assert captchala_sandbox.calls_for(token) == 0


def test_provider_down_refuses_the_submission(client, contact_page, captchala_sandbox, mailoutbox):
    captchala_sandbox.set_fault("error")
    token = captchala_sandbox.mint_pass_token("contact_form")
    response = client.post(contact_page.url, {**FILLED, TOKEN_FIELD: token})
    _refused(response, "The check could not be completed right now. Please try again.")
    assert mailoutbox == []


def test_a_good_token_with_a_bad_field_stores_nothing(
    client, contact_page, captchala_sandbox, mailoutbox
):
    token = captchala_sandbox.mint_pass_token("contact_form")
    response = client.post(contact_page.url, {**FILLED, "email": "nope", TOKEN_FIELD: token})
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["email"]
    assert FormSubmission.objects.count() == 0
    assert mailoutbox == []
    assert captchala_sandbox.calls_for(token) == 1


# ------------------------------------------------------------------ what a person gets


def _browser_post(client: Any, page: Page, token: str, **typed: str) -> Any:
    """GET the page, fill in its form as rendered, put the token where the widget does
    (its hidden input), and POST it back."""
    page_html = client.get(page.url).content.decode()
    data = querydict_from_html(page_html, form_index=0)
    assert TOKEN_FIELD in data  # the widget's hidden input is in the page
    data.update({**typed, TOKEN_FIELD: token})
    return client.post(page.url, data)


def test_the_page_has_the_check_though_no_editor_added_it(client, contact_page, captchala_sandbox):
    response = client.get(contact_page.url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "data-captchala" in html
    assert 'data-action="contact_form"' in html
    assert html.count(f'name="{TOKEN_FIELD}"') == 1
    # The editor's fields are the page's only form fields, and the check comes last.
    assert contact_page.form_fields.count() == 3
    assert list(response.context["form"].fields) == ["name", "email", "message", "captchala"]
    assert captchala_sandbox.count("validate") == 0


def test_the_form_is_given_the_request_explicitly(client, contact_page, captchala_sandbox):
    response = client.get(contact_page.url)
    assert response.context["form"].request is response.wsgi_request


def test_a_good_token_submits_once(client, contact_page, captchala_sandbox, mailoutbox):
    token = captchala_sandbox.mint_pass_token("contact_form")
    response = _browser_post(client, contact_page, token, **FILLED)
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "wagtail_site/contact_page_landing.html"
    assert THANKS in response.content.decode()
    assert FormSubmission.objects.filter(page=contact_page).count() == 1
    assert len(mailoutbox) == 1
    assert captchala_sandbox.calls_for(token) == 1
    assert captchala_sandbox.count("validate") == 1


def test_the_token_is_in_no_stored_submission_listing_or_mail(
    client, contact_page, captchala_sandbox, mailoutbox
):
    token = captchala_sandbox.mint_pass_token("contact_form")
    _browser_post(client, contact_page, token, **FILLED)

    submission = FormSubmission.objects.get(page=contact_page)
    assert submission.form_data == FILLED
    assert token not in json.dumps(submission.form_data)
    columns = [name for name, _label in contact_page.get_data_fields()]
    assert columns == ["submit_time", "name", "email", "message"]
    assert set(submission.get_data()) == {"submit_time", *FILLED}

    (message,) = mailoutbox
    assert message.to == ["team@example.com"]
    assert message.subject == "New message"
    assert message.body == "Name: Ada Lovelace\nEmail: ada@example.com\nMessage: Hello there"
    assert token not in message.message().as_string()


def test_the_admin_listing_and_csv_export_carry_no_token(
    admin_client, contact_page, captchala_sandbox
):
    token = captchala_sandbox.mint_pass_token("contact_form")
    _browser_post(admin_client, contact_page, token, **FILLED)
    url = f"/cms/forms/submissions/{contact_page.pk}/"

    listing = admin_client.get(url)
    assert listing.status_code == 200
    assert "Ada Lovelace" in listing.content.decode()
    assert token not in listing.content.decode()

    export = admin_client.get(url, {"export": "csv"})
    assert export.status_code == 200
    text = b"".join(export.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Submission date", "Name", "Email", "Message"]
    assert rows[1][1:] == ["Ada Lovelace", "ada@example.com", "Hello there"]
    assert token not in text


def test_without_any_request_middleware(client, contact_page, captchala_sandbox, settings):
    """No RequestContextMiddleware and no allauth middleware: the page still renders and
    checks, because the mixin gives its form the request."""
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "allauth" not in m]
    assert not any("captchala" in m for m in settings.MIDDLEWARE)
    # A form of the page built without the mixin's help has no request to render with;
    # code that builds one outside ``serve`` passes it, as the mixin does.
    bare = contact_page.get_form_class()(page=contact_page)
    with pytest.raises(RequestRequired):
        str(bare["captchala"])
    request = RequestFactory().get(contact_page.url)
    request.session = SessionStore()
    given = contact_page.get_form(page=contact_page, request=request)
    assert given.request is request
    assert "data-captchala" in str(given["captchala"])

    token = captchala_sandbox.mint_pass_token("contact_form")
    response = _browser_post(client, contact_page, token, **FILLED)
    assert THANKS in response.content.decode()
    assert FormSubmission.objects.count() == 1


def test_the_admin_preview_renders_the_check(contact_page, captchala_sandbox):
    """Wagtail's preview builds the form outside ``serve``: it is given the request too."""
    request = RequestFactory().get("/cms/preview/")
    request.user = get_user_model().objects.create_superuser("e", "e@example.com", "pw")
    request.session = SessionStore()
    response = contact_page.serve_preview(request, "form")
    html = response.render().content.decode()
    assert "data-captchala" in html
    assert response.context_data["form"].request is request
    landing = contact_page.serve_preview(request, "landing").render()
    assert THANKS in landing.content.decode()


def test_a_page_type_sets_its_own_action_and_field_name(client, quote_page, captchala_sandbox):
    html = client.get(quote_page.url).content.decode()
    assert 'data-action="checkout"' in html

    wrong = captchala_sandbox.mint_pass_token("contact_form")
    response = client.post(quote_page.url, {"company": "ACME", TOKEN_FIELD: wrong})
    assert response.context["form"].errors == {"human_check": [NOT_PASSED]}

    token = captchala_sandbox.mint_pass_token("checkout")
    response = client.post(quote_page.url, {"company": "ACME", TOKEN_FIELD: token})
    assert "Quote requested." in response.content.decode()
    assert FormSubmission.objects.get(page=quote_page).form_data == {"company": "ACME"}
    assert [n for n, _ in quote_page.get_data_fields()] == ["submit_time", "company"]


def test_an_editor_field_named_like_the_check_never_holds_the_token(
    client, contact_page, captchala_sandbox, mailoutbox
):
    """An editor who tries to "add the captcha" as a form field (named like its token, or
    like its field) gets no field that could store or mail the token."""
    for order, label in enumerate(["Captchala token", "Captchala"], start=10):
        ContactFormField.objects.create(
            page=contact_page, sort_order=order, label=label, field_type="hidden", required=False
        )
    html = client.get(contact_page.url).content.decode()
    assert html.count(f'name="{TOKEN_FIELD}"') == 1
    assert 'name="captchala"' not in html

    token = captchala_sandbox.mint_pass_token("contact_form")
    _browser_post(client, contact_page, token, **FILLED)
    submission = FormSubmission.objects.get()
    assert submission.form_data == FILLED
    assert [n for n, _ in contact_page.get_data_fields()] == [
        "submit_time",
        "name",
        "email",
        "message",
    ]
    assert token not in mailoutbox[0].body


# ------------------------------------------------------------------ page classes refused


def test_without_wagtail_the_module_says_what_to_install():
    script = textwrap.dedent("""
        import os, sys
        sys.modules["wagtail"] = None  # as if it were not installed
        os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
        import django
        django.setup()
        try:
            import captchala_django.contrib.wagtail
        except ImportError as exc:
            print("MESSAGE:", exc)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "MESSAGE: captchala_django.contrib.wagtail needs Wagtail" in out.stdout
    assert "pip install wagtail" in out.stdout


def test_listing_the_mixin_after_wagtails_form_page_is_refused():
    with pytest.raises(ImproperlyConfigured, match="list it first"):
        type("Backwards", (FormMixin, CaptchaLaFormPageMixin), {})


@pytest.mark.parametrize(
    "attrs",
    [{"captchala_field_name": "not a name"}, {"captchala_action": ""}],
    ids=["field-name", "action"],
)
def test_bad_options_are_refused_when_the_class_is_defined(attrs):
    with pytest.raises(ImproperlyConfigured):
        type("Bad", (CaptchaLaFormPageMixin, FormMixin), attrs)


def test_a_form_class_that_lost_the_check_fails_loudly(contact_page):
    """A subclass whose ``get_form_class()`` skips ``super()`` never serves an unchecked form."""

    class Plain(forms.Form):
        def __init__(self, *args: Any, page: Any = None, user: Any = None, **kwargs: Any):
            super().__init__(*args, **kwargs)

    class Unchecked(CaptchaLaFormPageMixin, FormMixin):
        template = "wagtail_site/contact_page.html"

        def get_form_class(self) -> type[forms.Form]:
            return Plain

    with pytest.raises(ImproperlyConfigured, match="must call super"):
        Unchecked().get_form()


# ------------------------------------------------------------------ the admin


def test_the_admin_edits_the_page_as_before(admin_client, contact_page, captchala_sandbox):
    """The page's editing form is Wagtail's own: no check on it, and an edit is saved."""
    form_class = ContactPage.get_edit_handler().get_form_class()
    assert "captchala" not in form_class.base_fields
    assert {"title", "to_address", "thank_you_text"} <= set(form_class.base_fields)
    assert "form_fields" in form_class.formsets

    url = f"/cms/pages/{contact_page.pk}/edit/"
    page_html = admin_client.get(url).content.decode()
    assert "data-captchala" not in page_html
    data = querydict_from_html(page_html, form_id="page-edit-form")
    data["title"] = "Write to us"
    data["action-publish"] = "action-publish"
    response = admin_client.post(url, data)
    assert response.status_code == 302
    contact_page.refresh_from_db()
    assert contact_page.title == "Write to us"
    assert contact_page.form_fields.count() == 3
    assert captchala_sandbox.count("validate") == 0
