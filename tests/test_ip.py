import pytest
from django.test import RequestFactory

from captchala_django.ip import get_client_ip, parse_ip


def req(remote="203.0.113.9", xff=None):
    extra = {"REMOTE_ADDR": remote}
    if xff is not None:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().get("/", **extra)


def test_remote_addr_is_the_client_without_trusted_proxies():
    assert get_client_ip(req()) == "203.0.113.9"


def test_forged_header_from_an_untrusted_peer_is_ignored(settings):
    settings.CAPTCHALA_TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert get_client_ip(req("203.0.113.9", "1.2.3.4")) == "203.0.113.9"


def test_right_most_untrusted_hop_behind_a_trusted_proxy(settings):
    settings.CAPTCHALA_TRUSTED_PROXIES = ["10.0.0.0/8"]
    # The client forged "6.6.6.6"; the real client is what our proxies saw.
    assert get_client_ip(req("10.0.0.2", "6.6.6.6, 198.51.100.4, 10.0.0.1")) == "198.51.100.4"


def test_all_trusted_hops_give_the_left_most(settings):
    settings.CAPTCHALA_TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert get_client_ip(req("10.0.0.2", "10.0.0.9, 10.0.0.1")) == "10.0.0.9"


def test_malformed_hop_stops_the_walk(settings):
    settings.CAPTCHALA_TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert get_client_ip(req("10.0.0.2", "198.51.100.4, not-an-ip")) == "10.0.0.2"


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("203.0.113.9:443", "203.0.113.9"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("2001:DB8::1", "2001:db8::1"),
        ("", None),
        ("garbage", None),
        ("203.0.113.9\x00", None),
    ],
)
def test_parse_ip(value, parsed):
    assert parse_ip(value) == parsed


def test_a_callable_may_replace_the_resolver(settings):
    settings.CAPTCHALA_IP_RESOLVER = "tests.test_ip.from_header"
    assert get_client_ip(req(xff="198.51.100.77")) == "198.51.100.77"


def from_header(request):
    return request.META.get("HTTP_X_FORWARDED_FOR")


RESOLVED: list[object] = []


def counting_resolver(request):
    RESOLVED.append(request)
    return "198.51.100.23"


@pytest.mark.django_db
def test_a_check_resolves_the_client_address_once(captchala_sandbox, settings):
    """The check, its budget and its scope share one resolution of the request's address."""
    from captchala_django.checkpoints import verify_and_record
    from tests.helpers import make_request

    settings.CAPTCHALA_IP_RESOLVER = "tests.test_ip.counting_resolver"
    RESOLVED.clear()
    request = make_request()
    outcome = verify_and_record(request, "pt_" + "made-up" * 5, "ip")
    assert outcome.failure_class == "validation"
    assert RESOLVED == [request]
