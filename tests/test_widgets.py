import json
import re
from pathlib import Path

import pytest
import requests
from django import forms
from django.test import Client, RequestFactory

from captchala_django.fields import CaptchaLaField
from captchala_django.forms import CaptchaLaFormMixin
from captchala_django.widgets import CaptchaLaWidget

pytestmark = pytest.mark.usefixtures("captchala_sandbox")


class Form(CaptchaLaFormMixin, forms.Form):
    captcha = CaptchaLaField(action="login")


class TwoActions(CaptchaLaFormMixin, forms.Form):
    a = CaptchaLaField(action="login")
    b = CaptchaLaField(action="register", product="popup")


def render(form_class=Form, request=None, **attrs):
    request = request or RequestFactory().get("/")
    return str(form_class(request=request)), request


def test_markup_carries_data_attributes_hidden_input_loader_and_static_boot(captchala_sandbox):
    html, _ = render()
    assert "data-captchala" in html
    assert 'data-app-key="sandbox-app-key"' in html
    assert 'data-action="login"' in html
    assert 'data-product="bind"' in html and 'data-lang="auto"' in html
    assert re.search(r'data-server-token="sct_[^"]+"', html)
    assert '<input type="hidden" name="captchala_token"' in html
    assert f'src="{captchala_sandbox.loader_url}"' in html
    assert "captchala_django/captchala-boot.js" in html
    # No inline JavaScript: every script tag loads a file.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all("src=" in attrs and body.strip() == "" for attrs, body in scripts)
    assert "sandbox-app-secret" not in html


def test_nonce_is_added_when_the_request_has_one():
    request = RequestFactory().get("/")
    request.csp_nonce = "n0nce123"
    html, _ = render(request=request)
    assert html.count('nonce="n0nce123"') == 2


def test_one_server_token_per_action_per_render(captchala_sandbox):
    request = RequestFactory().get("/")
    render(Form, request)
    render(Form, request)
    assert captchala_sandbox.count("issue") == 1
    html, _ = render(TwoActions, request)
    assert captchala_sandbox.count("issue") == 2  # "register" is new, "login" is cached
    assert html.count("data-captchala data-app-key") == 2
    assert html.count('name="captchala_token"') == 2
    assert 'data-product="popup"' in html


def test_server_token_is_bound_to_the_client_ip(captchala_sandbox):
    render(request=RequestFactory().get("/", REMOTE_ADDR="198.51.100.23"))
    assert json.loads(captchala_sandbox.last_requests[-1]["body"])["binding_ip"] == "198.51.100.23"


def test_failed_issue_renders_a_retry_message_not_a_500(captchala_sandbox):
    captchala_sandbox.set_fault("error")
    html, _ = render()
    assert "data-captchala-error" in html
    assert "Please reload the page to try again." in html
    assert "<script" not in html


def test_configuration_error_renders_retry_message_and_logs_error(settings, caplog):
    settings.CAPTCHALA_APP_SECRET = "wrong-secret-value"
    html, _ = render()
    assert "data-captchala-error" in html
    assert any(r.levelname == "ERROR" for r in caplog.records)


class Transfer(CaptchaLaFormMixin, forms.Form):
    captcha = CaptchaLaField(action="transfer")


def issued_actions(live):
    return [
        json.loads(r["body"])["action"] for r in live.last_requests if r["path"].endswith("issue")
    ]


def test_a_site_action_runs_as_generic_form_with_a_server_token(captchala_sandbox, settings):
    settings.CAPTCHALA_SERVER_TOKEN_ACTIONS = {}
    html, _ = render(Transfer)
    assert 'data-action="generic_form"' in html
    assert re.search(r'data-server-token="sct_[^"]+"', html)
    assert issued_actions(captchala_sandbox) == ["generic_form"]


def test_a_mapped_action_runs_as_its_provider_action(captchala_sandbox, settings):
    settings.CAPTCHALA_SERVER_TOKEN_ACTIONS = {"transfer": "checkout"}
    html, _ = render(Transfer)
    assert 'data-action="checkout"' in html
    assert issued_actions(captchala_sandbox) == ["checkout"]


def test_disabled_server_tokens_issue_nothing(captchala_sandbox, settings):
    settings.CAPTCHALA_SERVER_TOKENS = False
    html, _ = render(Transfer)
    assert 'data-server-token=""' in html
    assert captchala_sandbox.count("issue") == 0


@pytest.mark.django_db
def test_the_pass_of_a_mapped_widget_is_accepted_for_the_named_action(captchala_sandbox, settings):
    """The browser solves under the server token's action; the field names "transfer"."""
    settings.CAPTCHALA_SERVER_TOKEN_ACTIONS = {"transfer": "checkout"}
    html, request = render(Transfer)
    server_token = re.search(r'data-server-token="(sct_[^"]+)"', html).group(1)

    def solve(action, server_token=None):
        body = {"appKey": "sandbox-app-key", "action": action, "serverToken": server_token}
        return requests.post(f"{captchala_sandbox.url}/sandbox/solve", json=body, timeout=5).json()

    reply = solve("checkout", server_token)
    assert reply["data"]["action"] == "checkout"
    assert Transfer({"captchala_token": reply["data"]["token"]}, request=request).is_valid()
    # A pass solved for another provider action is not accepted for "transfer".
    other = solve("comment")["data"]["token"]
    form = Transfer({"captchala_token": other}, request=request)
    assert not form.is_valid()
    assert form.captchala_outcome.code == "token_action_mismatch"


def test_two_widgets_on_a_page_write_the_scripts_once(captchala_sandbox):
    html, _ = render(TwoActions)
    assert html.count(captchala_sandbox.loader_url) == 1
    assert html.count("captchala-boot.js") == 1
    # The form's media lists each script once too, for templates that render {{ form.media }}.
    media = str(TwoActions(request=RequestFactory().get("/")).media)
    assert media.count(captchala_sandbox.loader_url) == 1
    assert media.count("captchala-boot.js") == 1
    assert media.count(" defer") == 2


def test_a_second_form_on_the_same_request_writes_no_scripts(captchala_sandbox):
    request = RequestFactory().get("/")
    first, _ = render(Form, request)
    second, _ = render(Form, request)
    assert "<script" in first and "<script" not in second


def test_widget_options_come_from_settings_and_per_field(settings):
    settings.CAPTCHALA_WIDGET = {"product": "embed", "lang": "fr", "theme": "dark"}
    html, _ = render()
    assert 'data-product="embed"' in html and 'data-lang="fr"' in html
    assert 'data-theme="dark"' in html
    widget = CaptchaLaWidget(action="login", product="float", theme={"custom": {"color": "#f00"}})
    out = widget.render("captcha", None)
    assert 'data-product="float"' in out
    assert "&quot;color&quot;: &quot;#f00&quot;" in out


@pytest.mark.django_db
def test_refresh_endpoint_reissues_for_known_actions_only(captchala_sandbox):
    client = Client()
    ok = client.post("/captchala/server-token/", {"action": "login"})
    assert ok.status_code == 200 and ok.json()["server_token"].startswith("sct_")
    assert client.post("/captchala/server-token/", {"action": "nuke"}).status_code == 400
    assert client.get("/captchala/server-token/").status_code == 405
    captchala_sandbox.set_fault("error")
    down = client.post("/captchala/server-token/", {"action": "login"})
    assert down.status_code == 503 and down["Retry-After"] == "30"


def test_boot_script_is_served_as_a_static_file():
    from django.contrib.staticfiles import finders

    path = finders.find("captchala_django/captchala-boot.js")
    source = Path(path).read_text()
    for needle in (
        "Captchala.init",
        "captchala:success",
        "captchala:error",
        "requestSubmit",
        "server_token_expired",
        "bindTo",
        "appendTo",
    ):
        assert needle in source


def test_attrs_are_merged_never_duplicated():
    """The browser keeps the first of two equal attributes: each must appear once."""

    class Themed(CaptchaLaFormMixin, forms.Form):
        captcha = CaptchaLaField(
            action="login", widget=CaptchaLaWidget(attrs={"class": "mine", "data-theme": "dark"})
        )

    html, _ = render(Themed)
    div = re.search(r"<span ([^>]*)>", html).group(1)
    names = re.findall(r'([\w-]+)(?:="[^"]*")?', div)
    assert len(names) == len(set(names)), names
    assert 'class="captchala mine"' in div and 'data-theme="dark"' in div
    assert "data-captchala" in names and 'data-app-key="sandbox-app-key"' in div


def test_the_jinja2_template_is_the_django_template():
    """One markup, valid in both engines: the Jinja2 copy never drifts from the original."""
    from pathlib import Path

    package = Path(__file__).resolve().parent.parent / "captchala_django"
    django = (package / "templates/captchala_django/widget.html").read_text()
    jinja2 = (package / "jinja2/captchala_django/widget.html").read_text()
    assert jinja2 == django


def test_the_widget_may_sit_inside_a_paragraph_and_has_no_required_attribute(captchala_sandbox):
    """``{{ form.as_p }}`` (allauth's templates) puts each field in a ``<p>``: the widget's
    markup holds phrasing content only, and no ``required`` (meaningless on a container)."""

    class Plain(CaptchaLaFormMixin, forms.Form):
        captcha = CaptchaLaField(action="login")

    html = str(Plain(request=RequestFactory().get("/"))["captcha"])
    markup = html[: html.index("<script")]
    assert not re.search(r"<(div|p|section|ul|table)\b", markup), markup
    assert " required" not in markup
