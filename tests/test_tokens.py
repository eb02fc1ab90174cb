"""The one token reader: body field, else header; several is a conflict, everywhere."""

from django.http import QueryDict
from django.test import RequestFactory

from captchala_django.tokens import body_tokens, read_token


def request(header=None):
    extra = {"HTTP_X_CAPTCHALA_TOKEN": header} if header is not None else {}
    return RequestFactory().post("/", **extra)


def test_the_body_field_or_the_header():
    assert read_token(request(), QueryDict("captchala_token=a")).token == "a"
    assert read_token(request("h"), {}).token == "h"
    assert read_token(request(), {}).token is None


def test_several_tokens_are_a_conflict_never_a_choice():
    assert read_token(request("h"), QueryDict("captchala_token=a")).conflict
    assert read_token(request(), QueryDict("captchala_token=a&captchala_token=b")).conflict
    assert read_token(request(), {"captchala_token": ["a", "b"]}).conflict
    assert not read_token(request(), {"captchala_token": ["a"]}).conflict


def test_a_form_reads_the_body_only(settings):
    settings.CAPTCHALA_TOKEN_FIELD = "ct"
    assert body_tokens(QueryDict("ct=x&captchala_token=y")) == ["x"]
    assert read_token(None, {"ct": "x"}).token == "x"
