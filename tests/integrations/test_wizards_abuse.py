"""Attacks on CaptchaLaWizardMixin (attack21): finish a wizard twice with one solve, move a
receipt between runs, steps or wizards, skip or fake the check, or make the wizard a 500."""

import pytest
from django import forms
from django.http import HttpResponse
from django.test import Client
from django.urls import include, path, re_path
from formtools.wizard.views import (
    CookieWizardView,
    NamedUrlCookieWizardView,
    NamedUrlSessionWizardView,
    SessionWizardView,
)

from captchala_django.checkpoints import token_digest, verify_and_record
from captchala_django.models import PassToken
from captchala_django.tokens import RECEIPT_PREFIX, STAFF_RECEIPT
from captchala_django.wizards import CaptchaLaWizardMixin
from tests.helpers import make_request, run_threads, scope
from tests.integrations.test_wizards import _finished, post  # noqa: F401 - a fixture
from tests.integrations.wizards.forms import DetailsForm, WhoForm
from tests.integrations.wizards.views import FINISHED, SignupWizard

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

TEMPLATE = "wizards/step.html"


def done(self, form_list, **kwargs):
    data = {}
    for form in form_list:
        cleaned = form.cleaned_data
        data.update({"formset": cleaned} if isinstance(cleaned, list) else cleaned)
    FINISHED.append(data)
    return HttpResponse("done", status=201)


# ------------------------------------------------------------------ attack wizards


class NamedSession(CaptchaLaWizardMixin, NamedUrlSessionWizardView):
    form_list = SignupWizard.form_list
    template_name = TEMPLATE
    done = done


class NamedCookie(CaptchaLaWizardMixin, NamedUrlCookieWizardView):
    form_list = SignupWizard.form_list
    template_name = TEMPLATE
    done = done


class AllDataWizard(CaptchaLaWizardMixin, SessionWizardView):
    """done() reads get_all_cleaned_data(), formtools' documented way."""

    form_list = SignupWizard.form_list
    template_name = TEMPLATE

    def done(self, form_list, **kwargs):
        FINISHED.append(self.get_all_cleaned_data())
        return HttpResponse("done", status=201)


class EmailDetailsForm(DetailsForm):
    def __init__(self, *args, email=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean_name(self):
        if self.cleaned_data["name"].lower() in self.email.lower():
            raise forms.ValidationError("Not your e-mail address.")
        return self.cleaned_data["name"]


class KwargsWizard(CaptchaLaWizardMixin, SessionWizardView):
    """A later step's form takes data of the checked step (get_form_kwargs): a common
    formtools pattern."""

    form_list = [("who", WhoForm), ("details", EmailDetailsForm)]
    template_name = TEMPLATE
    done = done

    def get_form_kwargs(self, step=None):
        if step == "details":
            return {"email": self.get_cleaned_data_for_step("who")["email"]}
        return {}


PeopleFormSet = forms.formset_factory(DetailsForm, extra=1)


class FormsetWizard(CaptchaLaWizardMixin, SessionWizardView):
    """A step that is a formset (formtools supports them)."""

    form_list = [("who", WhoForm), ("people", PeopleFormSet)]
    template_name = TEMPLATE
    done = done


class CheckedFormsetWizard(CaptchaLaWizardMixin, CookieWizardView):
    """A formset step whose every form carries the check."""

    form_list = [("details", DetailsForm), ("people", forms.formset_factory(WhoForm, extra=1))]
    template_name = TEMPLATE
    done = done


class BeforeWizard(CaptchaLaWizardMixin, SessionWizardView):
    """The checked step comes second; the first step's initial data reads it."""

    form_list = [("details", DetailsForm), ("who", WhoForm)]
    template_name = TEMPLATE
    done = done

    def get_form_initial(self, step):
        if step == "details":
            who = self.get_cleaned_data_for_step("who") or {}
            return {"name": who.get("email", "@").split("@")[0]}
        return {}


class TwoChecksWizard(CaptchaLaWizardMixin, SessionWizardView):
    form_list = [("who", WhoForm), ("again", WhoForm), ("details", DetailsForm)]
    template_name = TEMPLATE
    done = done


class TidyWhoForm(WhoForm):
    """A form that keeps only its own data in cleaned_data (common before saving a model)."""

    def clean(self):
        data = super().clean()
        data.pop("captcha", None)
        return data


class TidyWizard(CaptchaLaWizardMixin, SessionWizardView):
    form_list = [("who", TidyWhoForm), ("details", DetailsForm)]
    template_name = TEMPLATE
    done = done


class CookieTwin(CaptchaLaWizardMixin, CookieWizardView):
    """Same class name as nothing else; used with as_view(form_list=...) twice below."""

    template_name = TEMPLATE
    done = done


urlpatterns = [
    re_path(
        r"^named/(?P<step>.+)/$", NamedSession.as_view(url_name="named-step"), name="named-step"
    ),
    path("named/", NamedSession.as_view(url_name="named-step"), name="named"),
    re_path(
        r"^named-cookie/(?P<step>.+)/$",
        NamedCookie.as_view(url_name="named-cookie-step"),
        name="named-cookie-step",
    ),
    path("all-data/", AllDataWizard.as_view(), name="all-data"),
    path("kwargs/", KwargsWizard.as_view(), name="kwargs"),
    path("formset/", FormsetWizard.as_view(), name="formset-wizard"),
    path("before/", BeforeWizard.as_view(), name="before"),
    path("checked-formset/", CheckedFormsetWizard.as_view(), name="checked-formset"),
    path("two/", TwoChecksWizard.as_view(), name="two"),
    path("tidy/", TidyWizard.as_view(), name="tidy"),
    path("twin-a/", CookieTwin.as_view(form_list=SignupWizard.form_list), name="twin-a"),
    path(
        "twin-b/",
        CookieTwin.as_view(form_list=[("who", WhoForm), ("details", DetailsForm)]),
        name="twin-b",
    ),
    path("", include("tests.integrations.urls")),
]


def copy_of(client):
    other = Client()
    for name, morsel in client.cookies.items():
        other.cookies[name] = morsel.value
    return other


SESSION = ("/wizards/session/", "signup_wizard")
COOKIE = ("/wizards/cookie/", "cookie_signup_wizard")
BOTH = pytest.mark.parametrize(("url", "wizard"), [SESSION, COOKIE], ids=["session", "cookie"])


# ------------------------------------------------------------------ one solve, two finishes


@BOTH
@pytest.mark.django_db(transaction=True)
def test_concurrent_final_posts_from_copies_of_one_run_finish_once(captchala_sandbox, url, wizard):
    """Parallel tabs (same session) or copied wizard cookies, the final step posted at once
    from 12 threads, each with its own database connection."""
    client = Client()
    token = captchala_sandbox.mint_pass_token("register")
    post(client, url, wizard, "who", {"email": "a@example.com"}, token)
    copies = [copy_of(client) for _ in range(12)]
    results, errors = run_threads(
        12, lambda i: post(copies[i], url, wizard, "details", {"name": f"Bot{i}"}).status_code
    )
    assert errors == []
    assert sorted(results).count(201) == 1 and len(FINISHED) == 1, results
    assert captchala_sandbox.calls_for(token) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_last_step_posts_with_one_token_finish_once(captchala_sandbox):
    client = Client()
    url, wizard = "/wizards/last-step/", "last_step_wizard"
    post(client, url, wizard, "details", {"name": "Ann"})
    token = captchala_sandbox.mint_pass_token("register")
    copies = [copy_of(client) for _ in range(8)]
    results, errors = run_threads(
        8, lambda i: post(copies[i], url, wizard, "agree", {"agree": "on"}, token).status_code
    )
    assert errors == [] and results.count(201) == 1 and len(FINISHED) == 1


@pytest.mark.parametrize(
    ("base", "wizard"),
    [("/named/", "named_session"), ("/named-cookie/", "named_cookie")],
    ids=["named-session", "named-cookie"],
)
def test_named_url_wizards_finish_once_and_a_replayed_done_get_does_not(
    captchala_sandbox, base, wizard
):
    client = Client()
    client.get(f"{base}who/")
    token = captchala_sandbox.mint_pass_token("register")
    r = post(client, f"{base}who/", wizard, "who", {"email": "a@example.com"}, token)
    assert r.status_code == 302 and r["Location"] == f"{base}details/"
    r = post(client, f"{base}details/", wizard, "details", {"name": "Ann"})
    assert r.status_code == 302 and r["Location"] == f"{base}done/"
    saved = copy_of(client)  # the state just before the done GET
    assert client.get(f"{base}done/").status_code == 201
    replay = saved.get(f"{base}done/")
    assert replay.status_code == 302 and len(FINISHED) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_done_gets_of_a_named_url_wizard_finish_once(captchala_sandbox):
    client = Client()
    client.get("/named/who/")
    token = captchala_sandbox.mint_pass_token("register")
    post(client, "/named/who/", "named_session", "who", {"email": "a@example.com"}, token)
    post(client, "/named/details/", "named_session", "details", {"name": "Ann"})
    copies = [copy_of(client) for _ in range(10)]
    results, errors = run_threads(10, lambda i: copies[i].get("/named/done/").status_code)
    assert errors == [] and results.count(201) == 1 and len(FINISHED) == 1, results


@BOTH
def test_going_back_and_reposting_the_last_step_does_not_finish_twice(
    captchala_sandbox, url, wizard
):
    client = Client()
    token = captchala_sandbox.mint_pass_token("register")
    post(client, url, wizard, "who", {"email": "a@example.com"}, token)
    saved = copy_of(client)
    assert post(client, url, wizard, "details", {"name": "Ann"}).status_code == 201
    # The saved state, walked back to the checked step and forward again.
    saved.post(url, {f"{wizard}-current_step": "details", "wizard_goto_step": "who"})
    again = post(saved, url, wizard, "details", {"name": "Bot"})
    assert again.status_code == 200 and len(FINISHED) == 1


@BOTH
def test_a_forged_current_step_cannot_skip_the_check(captchala_sandbox, url, wizard):
    client = Client()
    client.get(url)
    for step in ("details", "who"):
        r = post(
            client, url, wizard, "details", {"name": "Bot"}, **{f"{wizard}-current_step": step}
        )
        assert r.status_code in (200, 400) and FINISHED == []


# ------------------------------------------------------ receipts that are not the client's


@BOTH
def test_receipts_of_other_tokens_scopes_and_staff_are_refused_on_any_step(
    captchala_sandbox, url, wizard, settings
):
    other = captchala_sandbox.mint_pass_token("register")
    verify_and_record(make_request(), other, scope("elsewhere"), "register")  # another scope
    values = [
        RECEIPT_PREFIX + token_digest(other),
        RECEIPT_PREFIX + "f" * 64,
        RECEIPT_PREFIX + "F" * 64,
        RECEIPT_PREFIX + token_digest(other) + "\n",
        STAFF_RECEIPT,
        STAFF_RECEIPT + " ",
        " " + STAFF_RECEIPT,
    ]
    for value in values:
        r = post(Client(), url, wizard, "who", {"email": "a@example.com"}, value)
        assert r.context["wizard"]["steps"].current == "who", value
    settings.CAPTCHALA_SKIP_FOR_STAFF = True
    r = post(Client(), url, wizard, "who", {"email": "a@example.com"}, STAFF_RECEIPT)
    assert r.context["wizard"]["steps"].current == "who"
    assert FINISHED == []


def test_a_token_solved_for_another_action_or_used_elsewhere_does_not_pass_a_step(
    captchala_sandbox,
):
    url, wizard = SESSION
    login = captchala_sandbox.mint_pass_token("login")
    r = post(Client(), url, wizard, "who", {"email": "a@example.com"}, login)
    assert r.context["wizard"]["steps"].current == "who"
    used = captchala_sandbox.mint_pass_token("register")
    assert verify_and_record(make_request(), used, scope("login-form"), "register").allowed
    r = post(Client(), url, wizard, "who", {"email": "a@example.com"}, used)
    assert r.context["wizard"]["steps"].current == "who"
    # And the other way: a step's token, then a login form.
    step = captchala_sandbox.mint_pass_token("register")
    post(Client(), url, wizard, "who", {"email": "a@example.com"}, step)
    later = verify_and_record(make_request(), step, scope("later-form"), "register", reuse=False)
    assert not later.allowed


def test_a_receipt_of_one_step_does_not_pass_another_step_of_the_same_run(captchala_sandbox):
    """Two checked steps: the first's token (or its receipt) never serves the second."""
    client = Client()
    url, wizard = "/two/", "two_checks_wizard"
    token = captchala_sandbox.mint_pass_token("register")
    post(client, url, wizard, "who", {"email": "a@example.com"}, token)
    for value in (token, RECEIPT_PREFIX + token_digest(token)):
        r = post(client, url, wizard, "again", {"email": "a@example.com"}, value)
        assert r.context["wizard"]["steps"].current == "again"
    second = captchala_sandbox.mint_pass_token("register")
    post(client, url, wizard, "again", {"email": "a@example.com"}, second)
    assert post(client, url, wizard, "details", {"name": "Ann"}).status_code == 201


def test_one_class_mounted_twice_shares_storage_but_not_receipts(captchala_sandbox):
    """``CookieTwin.as_view(form_list=...)`` at two URLs: same prefix, so the same cookie and
    signature; the receipt is held for the same purpose (module, class, prefix, step).
    What keeps them apart is the scope's route."""
    client = Client()
    token = captchala_sandbox.mint_pass_token("register")
    post(client, "/twin-a/", "cookie_twin", "who", {"email": "a@example.com"}, token)
    r = post(client, "/twin-b/", "cookie_twin", "details", {"name": "Ann"})
    assert r.status_code == 200 and FINISHED == []
    # And the run at its own URL still finishes (the failed attempt at B did not spend it).
    r = post(client, "/twin-a/", "cookie_twin", "details", {"name": "Ann"})
    assert r.status_code == 201 and len(FINISHED) == 1


@BOTH
def test_tampered_wizard_storage_is_refused(captchala_sandbox, url, wizard):
    """Without the SECRET_KEY: flip a byte of the wizard cookie, or forge a session cookie."""
    client = Client(raise_request_exception=False)
    token = captchala_sandbox.mint_pass_token("register")
    post(client, url, wizard, "who", {"email": "a@example.com"}, token)
    for name, morsel in list(client.cookies.items()):
        value = morsel.value
        client.cookies[name] = value[:-3] + ("A" if value[-3] != "A" else "B") + value[-2:]
    r = post(client, url, wizard, "details", {"name": "Bot"})
    assert r.status_code in (200, 400) and FINISHED == []


# ------------------------------------------------------------------ failed or skipped checks


def test_a_step_refused_for_another_field_leaves_no_hold_and_spends_the_token(captchala_sandbox):
    client = Client()
    url, wizard = SESSION
    token = captchala_sandbox.mint_pass_token("register")
    r = post(client, url, wizard, "who", {"email": "not-an-email"}, token)
    assert r.context["wizard"]["steps"].current == "who"
    row = PassToken.objects.get(token_digest=token_digest(token))
    assert row.held_for == ""
    r = post(client, url, wizard, "who", {"email": "a@example.com"}, token)
    assert r.context["wizard"]["steps"].current == "who"  # a replay now
    assert post(client, url, wizard, "details", {"name": "Ann"}).status_code == 200
    assert FINISHED == []


def test_a_staff_receipt_does_not_outlive_the_staff_user(captchala_sandbox, settings):
    from django.contrib.auth import get_user_model

    settings.CAPTCHALA_SKIP_FOR_STAFF = True
    get_user_model().objects.create_user("staff", password="pw-staff-123", is_staff=True)
    url, wizard = COOKIE
    client = Client()
    client.login(username="staff", password="pw-staff-123")
    post(client, url, wizard, "who", {"email": "a@example.com"})  # skipped: no token
    wizard_cookie = client.cookies[f"wizard_{wizard}"].value
    anon = Client()
    anon.cookies[f"wizard_{wizard}"] = wizard_cookie
    r = post(anon, url, wizard, "details", {"name": "Bot"})
    assert r.status_code == 200 and FINISHED == []


def test_a_fail_open_pass_is_held_and_redeemed_once(captchala_sandbox, settings):
    settings.CAPTCHALA_ON_PROVIDER_ERROR = "allow"
    captchala_sandbox.set_fault("error")
    client = Client()
    url, wizard = COOKIE
    token = captchala_sandbox.mint_pass_token("register")
    post(client, url, wizard, "who", {"email": "a@example.com"}, token)
    saved = copy_of(client)
    captchala_sandbox.clear_faults()
    first = post(client, url, wizard, "details", {"name": "Ann"}).status_code
    second = post(saved, url, wizard, "details", {"name": "Bot"}).status_code
    assert len(FINISHED) <= 1 and second == 200  # never twice from one fail-open pass
    assert first in (200, 201)


# ------------------------------------------------------------------ what a site writes: 500s


def test_a_formset_step_is_not_a_500(captchala_sandbox):
    """formtools supports a formset as a step; process_step reads ``form.fields``,
    which a formset does not have -> AttributeError on every POST of that step."""
    client = Client(raise_request_exception=False)
    url, wizard = "/formset/", "formset_wizard"
    token = captchala_sandbox.mint_pass_token("register")
    post(client, url, wizard, "who", {"email": "a@example.com"}, token)
    data = {
        f"{wizard}-current_step": "people",
        "people-TOTAL_FORMS": "1",
        "people-INITIAL_FORMS": "0",
        "people-0-name": "Ann",
    }
    r = client.post(url, data)
    assert r.status_code != 500
    assert r.status_code == 201 and len(FINISHED) == 1


def test_done_reads_get_all_cleaned_data_with_the_checked_step(captchala_sandbox):
    """inside done() the mixin is still in its 'final' mode, so
    get_all_cleaned_data() builds the checked step again and tries to redeem its receipt a
    second time: the step is invalid and its fields (the e-mail) are missing."""
    client = Client()
    url, wizard = "/all-data/", "all_data_wizard"
    token = captchala_sandbox.mint_pass_token("register")
    post(client, url, wizard, "who", {"email": "a@example.com"}, token)
    assert post(client, url, wizard, "details", {"name": "Ann"}).status_code == 201
    assert FINISHED[0].get("email") == "a@example.com", FINISHED


def test_a_later_step_built_from_the_checked_steps_data_finishes(captchala_sandbox):
    """get_form_kwargs() of a later step reads get_cleaned_data_for_step() of
    the checked step; in render_done that second build redeems the receipt again, gets
    None, and the site's done path raises TypeError."""
    client = Client(raise_request_exception=False)
    url, wizard = "/kwargs/", "kwargs_wizard"
    token = captchala_sandbox.mint_pass_token("register")
    r = post(client, url, wizard, "who", {"email": "ann@example.com"}, token)
    assert r.context["wizard"]["steps"].current == "details"
    r = post(client, url, wizard, "details", {"name": "Bob"})
    assert r.status_code == 201, r.status_code


def test_a_checked_step_read_by_an_earlier_step_finishes(captchala_sandbox):
    """the earlier step's get_form_initial() reads the checked step
    during render_done, which redeems its receipt before the checked step is validated."""
    client = Client()
    url, wizard = "/before/", "before_wizard"
    post(client, url, wizard, "details", {"name": "Ann"})
    token = captchala_sandbox.mint_pass_token("register")
    r = post(client, url, wizard, "who", {"email": "a@example.com"}, token)
    assert r.status_code == 201, r.context["wizard"]["steps"].current


def test_a_form_whose_clean_drops_the_captcha_value_finishes(captchala_sandbox):
    """_receipt_of() reads the token from cleaned_data; a form whose
    clean() leaves the captcha out gets "" stored, and done() asks for a new solve forever."""
    client = Client()
    url, wizard = "/tidy/", "tidy_wizard"
    token = captchala_sandbox.mint_pass_token("register")
    r = post(client, url, wizard, "who", {"email": "a@example.com"}, token)
    assert r.context["wizard"]["steps"].current == "details"
    r = post(client, url, wizard, "details", {"name": "Ann"})
    assert r.status_code == 201, r.context["wizard"]["steps"].current


@BOTH
def test_a_receipt_does_not_outlive_the_checkpoint_ttl(captchala_sandbox, url, wizard):
    """A receipt lasts CAPTCHALA_CHECKPOINT_TTL, as long as any pass is trusted: a bot
    cannot bank one solved step per run and finish them all days later in one burst."""
    from datetime import timedelta

    from django.utils import timezone

    from captchala_django.models import Checkpoint

    client = Client()
    token = captchala_sandbox.mint_pass_token("register")
    post(client, url, wizard, "who", {"email": "a@example.com"}, token)
    ago = timezone.now() - timedelta(days=13)
    PassToken.objects.update(created_at=ago)
    Checkpoint.objects.update(created_at=ago, passed_at=ago, expires_at=ago)
    r = post(client, url, wizard, "details", {"name": "Ann"})
    assert r.status_code == 200, "a 13-day-old receipt still finished the wizard"


@BOTH
@pytest.mark.django_db(transaction=True)
def test_concurrent_final_posts_under_atomic_requests_finish_once(
    captchala_sandbox, url, wizard, monkeypatch
):
    from django.db import connections

    monkeypatch.setitem(connections.settings["default"], "ATOMIC_REQUESTS", True)
    client = Client()
    token = captchala_sandbox.mint_pass_token("register")
    post(client, url, wizard, "who", {"email": "a@example.com"}, token)
    copies = [copy_of(client) for _ in range(10)]
    results, errors = run_threads(
        10, lambda i: post(copies[i], url, wizard, "details", {"name": f"Bot{i}"}).status_code
    )
    assert errors == [] and results.count(201) == 1 and len(FINISHED) == 1, results


def _move_step(client, storage_from, step_from, storage_to, step_to):
    """Server-side tampering (a site bug, a shared session store): copy the stored data of
    one step into another step or another wizard's storage, renaming the prefixes."""
    session = client.session
    data = session[storage_from]["step_data"][step_from]
    moved = {k.replace(f"{step_from}-", f"{step_to}-", 1): v for k, v in data.items()}
    target = session.get(storage_to) or {
        "step": step_to,
        "step_data": {},
        "step_files": {},
        "extra_data": {},
    }
    target["step_data"][step_to] = moved
    session[storage_to] = target
    session.save()


def test_a_receipt_moved_to_another_step_in_storage_is_refused(captchala_sandbox):
    client = Client()
    url, wizard = "/two/", "two_checks_wizard"
    token = captchala_sandbox.mint_pass_token("register")
    post(client, url, wizard, "who", {"email": "a@example.com"}, token)
    _move_step(client, f"wizard_{wizard}", "who", f"wizard_{wizard}", "again")
    r = post(client, url, wizard, "details", {"name": "Ann"})
    assert r.status_code == 200 and r.context["wizard"]["steps"].current == "again"
    assert FINISHED == []


def test_a_receipt_moved_to_another_wizard_in_storage_is_refused(captchala_sandbox):
    """Wizard A's receipt in wizard B's storage: refused by the purpose (and the route)."""
    client = Client()
    token = captchala_sandbox.mint_pass_token("register")
    post(client, "/wizards/session/", "signup_wizard", "who", {"email": "a@example.com"}, token)
    client.get("/all-data/")
    _move_step(client, "wizard_signup_wizard", "who", "wizard_all_data_wizard", "who")
    r = post(client, "/all-data/", "all_data_wizard", "details", {"name": "Ann"})
    assert r.status_code == 200 and FINISHED == []
    # The same wizard at its own URL still finishes with it.
    assert (
        post(client, "/wizards/session/", "signup_wizard", "details", {"name": "Ann"}).status_code
        == 201
    )


@BOTH
def test_odd_token_values_on_a_step_are_refused_not_500(captchala_sandbox, url, wizard):
    a, b = (captchala_sandbox.mint_pass_token("register") for _ in range(2))
    for value in (
        "pt_" + "a" * 5000,
        "pt_\x00x",
        "pt_é",
        [a, b],
        RECEIPT_PREFIX,
        RECEIPT_PREFIX * 3,
    ):
        client = Client(raise_request_exception=False)
        r = post(client, url, wizard, "who", {"email": "a@example.com"}, value)
        assert r.status_code == 200 and r.context["wizard"]["steps"].current == "who", value
    assert captchala_sandbox.calls_for(a) == captchala_sandbox.calls_for(b) == 0


def test_a_formset_step_whose_forms_carry_the_check_finishes_once(captchala_sandbox):
    """Each form of the formset is verified once
    and its receipt redeemed once; a replayed cookie does not finish again."""
    client = Client(raise_request_exception=False)
    url, wizard = "/checked-formset/", "checked_formset_wizard"
    post(client, url, wizard, "details", {"name": "Ann"})
    tokens = [captchala_sandbox.mint_pass_token("register") for _ in range(2)]
    data = {
        f"{wizard}-current_step": "people",
        "people-TOTAL_FORMS": "2",
        "people-INITIAL_FORMS": "0",
    }
    for i, token in enumerate(tokens):
        data |= {f"people-{i}-email": f"p{i}@example.com", f"people-{i}-captchala_token": token}
    saved = copy_of(client)
    r = client.post(url, data)
    assert r.status_code == 201, r.status_code
    assert [captchala_sandbox.calls_for(t) for t in tokens] == [1, 1]
    assert saved.post(url, data).status_code == 200 and len(FINISHED) == 1
    # The same token in both forms passes one form at most.
    one = captchala_sandbox.mint_pass_token("register")
    data |= {"people-0-captchala_token": one, "people-1-captchala_token": one}
    again = copy_of(saved)
    assert again.post(url, data).status_code == 200 and len(FINISHED) == 1
