import pytest
from django.test import override_settings

from captchala_django.conf import (
    SANDBOX_APP_KEY,
    SANDBOX_APP_SECRET,
    SETTINGS,
    app_settings,
    get_setting,
    reload_settings,
)
from captchala_django.exceptions import ConfigurationError


def test_every_design_setting_has_a_spec():
    for name in [
        "CAPTCHALA_APP_KEY",
        "CAPTCHALA_APP_SECRET",
        "CAPTCHALA_API_URL",
        "CAPTCHALA_LOADER_URL",
        "CAPTCHALA_TIMEOUT",
        "CAPTCHALA_CHECKPOINT_TTL",
        "CAPTCHALA_ON_PROVIDER_ERROR",
        "CAPTCHALA_ON_PERSISTENCE_ERROR",
        "CAPTCHALA_TRUSTED_PROXIES",
        "CAPTCHALA_DEFAULT_SCOPE",
        "CAPTCHALA_SANDBOX",
        "CAPTCHALA_TOKEN_FIELD",
        "CAPTCHALA_SEND_CLIENT_IP",
        "CAPTCHALA_ACCEPT_DEGRADED",
        "CAPTCHALA_ACCEPT_CLIENT_ONLY",
        "CAPTCHALA_OFFLINE_API_URL",
        "CAPTCHALA_SERVER_TOKENS",
        "CAPTCHALA_WIDGET",
        "CAPTCHALA_SKIP_FOR_STAFF",
    ]:
        assert name in SETTINGS


def test_defaults_apply_when_nothing_is_set():
    assert app_settings.CHECKPOINT_TTL == 1800
    assert app_settings.ON_PROVIDER_ERROR == "deny"
    assert app_settings.ON_PERSISTENCE_ERROR == "allow"
    assert app_settings.TOKEN_FIELD == "captchala_token"
    assert app_settings.WIDGET == {"product": "bind", "lang": "auto"}


def test_mutable_defaults_are_copies():
    app_settings.WIDGET["product"] = "popup"
    app_settings.TRUSTED_PROXIES.append("10.0.0.0/8")
    assert app_settings.WIDGET["product"] == "bind"
    assert app_settings.TRUSTED_PROXIES == []


def test_django_setting_wins_over_environment(settings, monkeypatch):
    monkeypatch.setenv("CAPTCHALA_TIMEOUT", "9")
    reload_settings()  # the environment is read once per process
    settings.CAPTCHALA_TIMEOUT = 1.5
    assert app_settings.TIMEOUT == 1.5


@pytest.mark.parametrize(
    ("name", "raw", "value"),
    [
        ("CAPTCHALA_TIMEOUT", "5.5", 5.5),
        ("CAPTCHALA_CHECKPOINT_TTL", "600", 600),
        ("CAPTCHALA_SANDBOX", "true", True),
        ("CAPTCHALA_SANDBOX", "0", False),
        (
            "CAPTCHALA_TRUSTED_PROXIES",
            "10.0.0.0/8,192.168.0.0/16",
            ["10.0.0.0/8", "192.168.0.0/16"],
        ),
        (
            "CAPTCHALA_WIDGET",
            '{"product": "popup", "theme": "dark"}',
            {"product": "popup", "theme": "dark"},
        ),
        ("CAPTCHALA_APP_KEY", "key-from-env", "key-from-env"),
    ],
)
def test_environment_is_parsed_when_no_django_setting(settings, monkeypatch, name, raw, value):
    if hasattr(settings, name):
        delattr(settings, name)
    monkeypatch.setenv(name, raw)
    reload_settings()  # the environment is read once per process
    assert get_setting(name) == value


def test_unparsable_environment_names_the_variable(settings, monkeypatch):
    del settings.CAPTCHALA_TIMEOUT
    monkeypatch.setenv("CAPTCHALA_TIMEOUT", "soon")
    reload_settings()  # the environment is read once per process
    with pytest.raises(ConfigurationError, match="CAPTCHALA_TIMEOUT"):
        get_setting("CAPTCHALA_TIMEOUT")


def test_settings_are_read_on_every_access():
    with override_settings(CAPTCHALA_CHECKPOINT_TTL=42):
        assert app_settings.CHECKPOINT_TTL == 42
    assert app_settings.CHECKPOINT_TTL == 1800


def test_missing_key_raises_a_configuration_error_naming_it(settings, monkeypatch):
    monkeypatch.delenv("CAPTCHALA_APP_SECRET", raising=False)
    del settings.CAPTCHALA_APP_SECRET
    with pytest.raises(ConfigurationError, match="CAPTCHALA_APP_SECRET"):
        _ = app_settings.APP_SECRET


def test_missing_keys_fall_back_to_sandbox_keys_when_the_sandbox_is_on(settings, monkeypatch):
    for name in ("CAPTCHALA_APP_KEY", "CAPTCHALA_APP_SECRET"):
        monkeypatch.delenv(name, raising=False)
        delattr(settings, name)
    settings.CAPTCHALA_SANDBOX = True
    assert (app_settings.APP_KEY, app_settings.APP_SECRET) == (SANDBOX_APP_KEY, SANDBOX_APP_SECRET)


def test_configuration_error_is_improperly_configured():
    from django.core.exceptions import ImproperlyConfigured

    assert issubclass(ConfigurationError, ImproperlyConfigured)


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError):
        _ = app_settings.NOT_A_SETTING


def test_every_spec_says_its_type_default_meaning_and_what_it_allows():
    from captchala_django.conf import ByHand, Fields, OneOf, Range

    for spec in SETTINGS.values():
        assert spec.cast in ("str", "float", "int", "bool", "list", "json"), spec.name
        assert spec.doc and "\n" not in spec.doc, spec.name
        assert spec.check is None or isinstance(spec.check, (Range, OneOf, Fields, ByHand)), (
            spec.name
        )


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("CAPTCHALA_TIMEOUT", [0.1, 3, 30], [0, 30.5, "3", True, None]),
        ("CAPTCHALA_CHECKPOINT_TTL", [1, 1800, 7 * 24 * 3600], [0, -5, 10**9, False]),
        ("CAPTCHALA_MAX_RISK", [None, 0, 55, 100], [-1, 101, 50.0, "50", True]),
        ("CAPTCHALA_ON_PROVIDER_ERROR", ["deny", "allow"], ["ALLOW", "maybe", None]),
    ],
)
def test_a_specs_rule_accepts_what_it_describes(name, good, bad):
    rule = SETTINGS[name].check
    assert all(rule.accepts(v) for v in good)
    assert not any(rule.accepts(v) for v in bad)


def test_the_client_setting_is_a_documented_spec():
    spec = SETTINGS["CAPTCHALA_CLIENT"]
    assert spec.default is None and spec.check.id == "captchala_django.E014"
    assert "create_session()" in spec.doc
