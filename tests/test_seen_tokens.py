"""A token the site has seen belongs to the scope that showed it (DESIGN §8).

A request riding a pass goes through without asking CaptchaLa. A token it carries
was still shown to the site, by that client: it is claimed for that scope, so that
anywhere else it is a replay. CaptchaLa never saw it and would call it valid.
"""

import pytest
from django.test import Client

from captchala_django.checkpoints import token_digest, verify_and_record
from captchala_django.models import Checkpoint, PassToken
from captchala_django.scopes import Scope
from tests.helpers import make_request

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("captchala_sandbox")]

JSON = {"HTTP_ACCEPT": "application/json"}
HOLDER, BOT = "198.51.100.10", "203.0.113.99"


def _pass_at(address: str, sandbox) -> Client:
    """A client at ``address`` holding a pass of the ip-scoped ``/mixin/`` route."""
    client = Client(REMOTE_ADDR=address)
    token = sandbox.mint_pass_token("transfer")
    assert client.post("/mixin/", {"captchala_token": token}, **JSON).status_code == 200
    return client


@pytest.mark.parametrize("carried_in", ["body", "header"])
def test_a_token_shown_while_riding_a_pass_is_a_replay_anywhere_else(captchala_sandbox, carried_in):
    holder = _pass_at(HOLDER, captchala_sandbox)
    fresh = captchala_sandbox.mint_pass_token("transfer")
    sent = {"data": {"captchala_token": fresh}} if carried_in == "body" else {}
    header = {"HTTP_X_CAPTCHALA_TOKEN": fresh} if carried_in == "header" else {}
    ridden = holder.post("/mixin/", **sent, **header, **JSON)
    assert ridden.status_code == 200
    assert captchala_sandbox.calls_for(fresh) == 0  # the pass answered, not CaptchaLa

    bot = Client(REMOTE_ADDR=BOT)
    stolen = bot.post("/mixin/", **sent, **header, **JSON)
    assert stolen.status_code == 403
    assert stolen.json()["error"] == "captcha_required"
    assert captchala_sandbox.calls_for(fresh) == 0  # refused from the ledger, never sent
    claim = PassToken.objects.get(token_digest=token_digest(fresh))
    assert claim.scope_key == Scope("ip", HOLDER, "mixin").key
    assert not Checkpoint.objects.filter(scope_key=Scope("ip", BOT, "mixin").key, status="passed")
    # ...and the bot's next request is challenged again: nothing rides.
    assert bot.post("/mixin/", **JSON).status_code == 403


def test_the_holder_cannot_spend_a_token_it_showed_with_a_pass_later(captchala_sandbox):
    """Seen is spent: once the pass is gone, that token is no fresh solve (it was never
    judged, and a resubmission would be a second use)."""
    holder = _pass_at(HOLDER, captchala_sandbox)
    fresh = captchala_sandbox.mint_pass_token("transfer")
    assert holder.post("/mixin/", {"captchala_token": fresh}, **JSON).status_code == 200
    Checkpoint.objects.all().delete()  # the pass is gone (expired, reset)
    again = holder.post("/mixin/", {"captchala_token": fresh}, **JSON)
    assert again.status_code == 403
    assert captchala_sandbox.calls_for(fresh) == 0


def test_several_tokens_on_a_ridden_request_are_each_claimed(captchala_sandbox):
    holder = _pass_at(HOLDER, captchala_sandbox)
    one, two = (captchala_sandbox.mint_pass_token("transfer") for _ in range(2))
    ridden = holder.post("/mixin/", {"captchala_token": one}, HTTP_X_CAPTCHALA_TOKEN=two, **JSON)
    assert ridden.status_code == 200
    for token in (one, two):
        bot = Client(REMOTE_ADDR=BOT)
        assert bot.post("/mixin/", {"captchala_token": token}, **JSON).status_code == 403
        assert captchala_sandbox.calls_for(token) == 0


def test_verify_and_records_own_fast_path_claims_the_token_too(captchala_sandbox):
    """A caller of ``verify_and_record`` (fast path on) gets the same rule."""
    first = captchala_sandbox.mint_pass_token("transfer")
    assert verify_and_record(make_request(HOLDER), first, scope="ip", route="r").allowed
    fresh = captchala_sandbox.mint_pass_token("transfer")
    ridden = verify_and_record(make_request(HOLDER), fresh, scope="ip", route="r")
    assert ridden.allowed and ridden.code == "checkpoint_passed"
    stolen = verify_and_record(make_request(BOT), fresh, scope="ip", route="r")
    assert not stolen.allowed and stolen.failure_class == "replay"
    assert captchala_sandbox.calls_for(fresh) == 0


def test_a_malformed_token_on_a_ridden_request_claims_nothing(captchala_sandbox):
    holder = _pass_at(HOLDER, captchala_sandbox)
    claims = PassToken.objects.count()
    assert holder.post("/mixin/", {"captchala_token": "not a token"}, **JSON).status_code == 200
    assert PassToken.objects.count() == claims


def test_a_ridden_request_cannot_buy_a_ledger_row_per_value_it_carries(captchala_sandbox):
    holder = _pass_at(HOLDER, captchala_sandbox)
    before = PassToken.objects.count()
    values = [f"pt_made-up-{i:05d}-" + "x" * 20 for i in range(500)]
    assert holder.post("/mixin/", {"captchala_token": values}, **JSON).status_code == 200
    assert PassToken.objects.count() - before <= 4


def test_a_pass_holder_cannot_make_the_site_store_unbounded_ledger_rows(captchala_sandbox):
    """Riding a pass, each new claim of a token shown with it is a ledger row (kept for
    CAPTCHALA_LEDGER_TTL): one solve must not buy rows at whatever rate a bot can send."""
    holder = Client(REMOTE_ADDR=HOLDER)
    token = captchala_sandbox.mint_pass_token("transfer")
    assert holder.post("/mixin/", {"captchala_token": token}, **JSON).status_code == 200
    before = PassToken.objects.count()
    codes = []
    for i in range(50):
        values = [_made_up(4 * i + k) for k in range(4)]
        codes.append(holder.post("/mixin/", {"captchala_token": values}, **JSON).status_code)
    # A client's new claims are budgeted like its failed checks (20 a minute), not by its
    # request rate: past the budget the request is refused, its tokens never left unclaimed.
    assert PassToken.objects.count() - before <= 20
    assert codes[:5] == [200] * 5 and set(codes[5:]) == {429}
    # The same token shown again makes no new row, and costs nothing.
    assert holder.post("/mixin/", {}, **JSON).status_code == 200


def _made_up(i: int) -> str:
    return f"pt_made-up-{i:04d}-" + "x" * 24


def test_verify_and_records_fast_path_budgets_its_seen_claims_too(captchala_sandbox):
    """The same bound through ``verify_and_record`` (on PostgreSQL the claim is made in
    the fast path's own statement, and taken back when the budget refuses it)."""
    first = captchala_sandbox.mint_pass_token("transfer")
    assert verify_and_record(make_request(HOLDER), first, scope="ip", route="r").allowed
    before = PassToken.objects.count()
    outcomes = [
        verify_and_record(make_request(HOLDER), _made_up(i), scope="ip", route="r")
        for i in range(30)
    ]
    assert [o.code for o in outcomes[:20]] == ["checkpoint_passed"] * 20
    assert {(o.allowed, o.failure_class) for o in outcomes[20:]} == {(False, "rate_limited")}
    assert PassToken.objects.count() - before == 20
    assert captchala_sandbox.count("validate") == 1
