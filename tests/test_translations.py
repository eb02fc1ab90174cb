"""The shipped catalogs: every language translates the package's real strings, and
``scripts/check-translations`` passes on them and fails on a broken copy."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django import forms
from django.contrib import admin
from django.template.loader import render_to_string
from django.utils import translation

from captchala_django.admin import CheckpointAdmin, ExpiredFilter
from captchala_django.apps import CaptchaLaConfig
from captchala_django.fields import CaptchaLaField
from captchala_django.models import Checkpoint, Status

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "check-translations"
PACKAGE = ROOT / "captchala_django"
LOCALE = PACKAGE / "locale"

# Django language code -> which counts share a plural form (per the catalog's Plural-Forms).
LANGUAGES = {
    "fr": "0 and 1 singular",
    "de": "1 singular",
    "es": "1 singular",
    "pt-br": "0 and 1 singular",
    "ja": "one form",
    "zh-hans": "one form",
}


class CaptchaForm(forms.Form):
    captcha = CaptchaLaField()


def expire_message(count: int) -> str:
    """The admin's own "N checkpoints expired." message, built by the real action."""
    model_admin = CheckpointAdmin(Checkpoint, admin.site)
    captured = {}
    model_admin._apply = lambda request, queryset, function, done: captured.update(done=done)
    model_admin.expire_selected(None, None)
    return captured["done"](count)


def shape(message: str) -> str:
    return re.sub(r"\d+", "N", message)


@pytest.mark.parametrize("language", LANGUAGES)
def test_user_facing_strings_are_translated(language):
    with translation.override(language):
        form = CaptchaForm(data={})
        assert not form.is_valid()
        required = form.errors["captcha"][0]
        invalid = str(CaptchaLaField().error_messages["invalid"])
        action = str(CheckpointAdmin.expire_selected.short_description)
        reset = str(CheckpointAdmin.reset_selected.short_description)
        filter_title = str(ExpiredFilter.title)
        app_name = str(CaptchaLaConfig.verbose_name)
        plural_name = str(Checkpoint._meta.verbose_name_plural)
        status = str(Status.PASSED.label)
        page = render_to_string("captchala_django/unavailable.html", {"message": "-"})

    assert required != "Please complete the check."
    assert invalid != "The check was not passed. Please try again."
    assert action != "Expire selected checkpoints"
    assert reset != "Reset selected checkpoints"
    assert filter_title != "expired"
    assert app_name != "CaptchaLa checkpoints"
    assert "CaptchaLa" in app_name  # the product name stays as it is
    assert plural_name != "checkpoints"
    assert status != "passed"
    assert "Try again" not in page and "Please try again" not in page


@pytest.mark.parametrize("language", LANGUAGES)
def test_plural_message_keeps_the_count_and_follows_the_language_rule(language):
    with translation.override(language):
        messages = {n: expire_message(n) for n in (0, 1, 2, 21)}

    for count, message in messages.items():
        assert str(count) in message
        assert "%" not in message
        assert "checkpoint" not in message
    forms_used = {n: shape(m) for n, m in messages.items()}
    rule = LANGUAGES[language]
    if rule == "one form":
        assert len(set(forms_used.values())) == 1
    elif rule == "0 and 1 singular":
        assert forms_used[0] == forms_used[1] != forms_used[2] == forms_used[21]
    else:
        assert forms_used[0] == forms_used[2] == forms_used[21] != forms_used[1]


def test_english_is_the_source_language():
    with translation.override("en"):
        assert expire_message(1) == "1 checkpoint expired."
        assert expire_message(3) == "3 checkpoints expired."
        assert str(CheckpointAdmin.expire_selected.short_description) == (
            "Expire selected checkpoints"
        )


def run_check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_translations_passes_on_the_shipped_catalogs():
    assert SCRIPT.stat().st_mode & 0o111, "scripts/check-translations must be executable"
    result = run_check()
    assert result.returncode == 0, result.stdout + result.stderr
    for language in ("de", "es", "fr", "ja", "pt_BR", "zh_Hans"):
        assert re.search(
            rf"^{language}: \d+ messages, 0 untranslated, 0 fuzzy$", result.stdout, re.M
        )
    assert re.search(r"^en: \d+ messages", result.stdout, re.M)


def set_in_po(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_check_translations_fails_on_fuzzy_untranslated_and_stale_entries(tmp_path):
    locale = tmp_path / "locale"
    shutil.copytree(LOCALE, locale)
    set_in_po(
        locale / "fr/LC_MESSAGES/django.po",
        'msgid "Expire selected checkpoints"',
        '#, fuzzy\nmsgid "Expire selected checkpoints"',
    )
    set_in_po(
        locale / "de/LC_MESSAGES/django.po",
        'msgid "Try again"\nmsgstr "Erneut versuchen"',
        'msgid "Try again"\nmsgstr ""',
    )
    set_in_po(  # changed in the .po, the .mo not compiled again
        locale / "es/LC_MESSAGES/django.po",
        'msgid "Continue"\nmsgstr "Continuar"',
        'msgid "Continue"\nmsgstr "Seguir"',
    )

    result = run_check("--locale-dir", str(locale))

    assert result.returncode == 1, result.stdout + result.stderr
    assert "fr: fuzzy msgid 'Expire selected checkpoints'" in result.stderr
    assert "de: untranslated msgid 'Try again'" in result.stderr
    assert "es: es/LC_MESSAGES/django.mo is out of date" in result.stderr
    assert "'Continue'" in result.stderr
    assert re.search(r"^fr: \d+ messages, 0 untranslated, 1 fuzzy$", result.stdout, re.M)
    assert re.search(r"^de: \d+ messages, 1 untranslated, 0 fuzzy$", result.stdout, re.M)
    assert (LOCALE / "fr/LC_MESSAGES/django.po").read_text(encoding="utf-8").count("fuzzy") == 0


def test_check_translations_fails_on_a_string_the_catalogs_lack(tmp_path):
    package = tmp_path / "captchala_django"
    shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    with (package / "apps.py").open("a", encoding="utf-8") as handle:
        handle.write('\nNEW_STRING = _("A string no catalog has for %(name)s")\n')

    result = run_check("--package-dir", str(package))

    assert result.returncode == 1, result.stdout + result.stderr
    for language in ("de", "en", "es", "fr", "ja", "pt_BR", "zh_Hans"):
        expected = f"{language}: missing msgid 'A string no catalog has for %(name)s'"
        assert expected in result.stderr
