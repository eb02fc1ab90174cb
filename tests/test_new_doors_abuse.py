"""Keys per site, privacy and consent tried as a bot author or a hostile page would: a pass
one app judged never opens another site (same address, shared session, same user), a 6to4
or Teredo client's IPv4 address is not kept whole, and ``{{ form.media }}`` loads nothing of
CaptchaLa's before consent."""

import ipaddress

import pytest
from django import forms
from django.contrib.auth import get_user_model
from django.test import Client

from captchala_django.fields import CaptchaLaField
from captchala_django.ip import parse_ip, stored_address
from tests.keys import SITE_A, SITE_B

pytestmark = pytest.mark.django_db
ADDRESS = "203.0.113.91"


# --------------------------------------------------------------------------- keys per site


def test_a_pass_judged_by_app_a_does_not_open_site_b_for_the_same_address(two_sites):
    """Scope ``ip`` (the mixin at /mixin/): the bot solves site A's check (app A, say a
    tenant's own app on an easy setting, or the attacker's own tenant) and then posts to
    site B with no token at all. Site B's app never judged anything."""
    token = two_sites.mint_pass_token(action="transfer", app_key=SITE_A.app_key)
    on_a = Client(HTTP_HOST="a.example", REMOTE_ADDR=ADDRESS)
    assert on_a.post("/mixin/", {"captchala_token": token}).status_code == 200
    on_b = Client(HTTP_HOST="b.example", REMOTE_ADDR=ADDRESS)
    answer = on_b.post("/mixin/", {"amount": "1000"})
    b_validations = [
        r for r in two_sites.last_requests if r["headers"].get("x-app-key") == SITE_B.app_key
    ]
    assert answer.status_code == 403, (
        f"site B let the request through ({answer.status_code}) on app A's checkpoint; "
        f"app B validated {len(b_validations)} tokens"
    )


def test_a_pass_judged_by_app_a_does_not_open_site_b_for_a_shared_session(two_sites, settings):
    """Scope ``session`` (the decorator at /transfer/) with one session cookie for both
    sites (SESSION_COOKIE_DOMAIN = ".example", the common set-up for sibling sites; the test
    client shares its cookie jar across hosts the same way)."""
    settings.SESSION_COOKIE_DOMAIN = ".example"
    browser = Client(REMOTE_ADDR=ADDRESS)
    token = two_sites.mint_pass_token(app_key=SITE_A.app_key)
    assert (
        browser.post("/transfer/", {"captchala_token": token}, HTTP_HOST="a.example").status_code
        == 200
    )
    answer = browser.post("/transfer/", {"amount": "5"}, HTTP_HOST="b.example")
    assert answer.status_code == 403, "site B rode site A's checkpoint (no app B check at all)"


def test_a_pass_judged_by_app_a_does_not_open_site_b_for_the_same_user(two_sites):
    """Scope ``user`` (one user table for every site, as with django.contrib.sites): a pass on
    tenant A's route is the user's pass on tenant B's route of the same name."""
    from captchala_django.checkpoints import get_passed, verify_and_record
    from tests.helpers import make_request

    user = get_user_model().objects.create_user("mallory", password="pw")
    on_a = make_request(ip=ADDRESS, HTTP_HOST="a.example")
    on_a.user = user
    token = two_sites.mint_pass_token(app_key=SITE_A.app_key)
    assert verify_and_record(on_a, token, scope="user", route="transfer").allowed
    on_b = make_request(ip="198.51.100.9", HTTP_HOST="b.example")
    on_b.user = user
    assert get_passed(on_b, "user", route="transfer") is None, (
        "site B's fast path answers with the checkpoint app A's check earned"
    )


def test_the_checkpoint_row_names_no_app_so_nothing_can_tell_the_two_passes_apart(two_sites):
    """Why the three tests above fail: the scope key is HMAC(kind, subject, route) only."""
    from captchala_django.scopes import resolve_scope
    from tests.helpers import make_request

    a = resolve_scope(make_request(ip=ADDRESS, HTTP_HOST="a.example"), "ip", "transfer")
    b = resolve_scope(make_request(ip=ADDRESS, HTTP_HOST="b.example"), "ip", "transfer")
    assert a.key != b.key, "one scope key for two apps: a pass of one app answers for the other"


# --------------------------------------------------------------------------- privacy


def test_truncated_mode_does_not_keep_a_6to4_clients_whole_ipv4_address(settings):
    """A 6to4 address (2002:AABB:CCDD::/48) carries its IPv4 address in bits 16-48: the /48
    that ``truncated`` keeps is the whole IPv4 address, which ``truncated`` promises to cut
    to its /24."""
    settings.CAPTCHALA_ADDRESS_STORAGE = "truncated"
    client_v4 = "203.0.113.77"
    six_to_four = parse_ip(
        f"2002:{ipaddress.IPv4Address(client_v4).packed.hex()[:4]}:"
        f"{ipaddress.IPv4Address(client_v4).packed.hex()[4:]}::1"
    )
    assert stored_address(six_to_four) == "203.0.113.0"  # its IPv4 address, cut to the /24
    teredo = "2001:0:4136:e378:8000:63bf:3fff:fdd2"  # RFC 4380's example: 192.0.2.45
    assert stored_address(teredo) == "192.0.2.0"


# --------------------------------------------------------------------------- consent


class ContactForm(forms.Form):
    message = forms.CharField()
    captcha = CaptchaLaField(action="contact_form")


def test_form_media_writes_no_live_loader_when_consent_is_asked(settings):
    """``{{ form.media }}`` (documented in guides/forms.md; printed by crispy-forms'
    helper by default, by Wagtail's form pages, by tests/integrations/wagtail_site) must
    not fetch CaptchaLa's loader before consent, as the widget's own tags do not."""
    settings.CAPTCHALA_CONSENT = True
    media = str(ContactForm().media)
    assert f'<script src="{settings.CAPTCHALA_LOADER_URL}"' not in media, media
