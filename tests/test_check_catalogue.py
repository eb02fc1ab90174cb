"""The reference pages are generated from the code's own tables; these tests hold the
tables to the code: every system check id the package raises has its line in
``check_catalogue.CHECKS`` (and no line is left for a check that is gone), and every
outcome code has its meaning."""

import re
from pathlib import Path

from django.core.checks import Error, Warning, run_checks
from django.test import override_settings

from captchala_django import check_catalogue, checks
from captchala_django.codes import MEANING, Code
from captchala_django.conf import SETTINGS, ByHand, Fields, OneOf, Range

PACKAGE = Path(check_catalogue.__file__).parent
ID = re.compile(r"captchala_django\.[EW]\d{3}")


def ids_in_the_code() -> set[str]:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        if path.name != "check_catalogue.py":
            found |= set(ID.findall(path.read_text()))
    return found


def test_every_check_the_code_raises_is_in_the_catalogue_and_no_other():
    assert ids_in_the_code() == set(check_catalogue.CHECKS)


def test_a_check_raised_at_run_time_has_the_level_its_id_says():
    with override_settings(CAPTCHALA_TIMEOUT=99, CAPTCHALA_CHECKPOINT_TTL=0):
        raised = [m for m in run_checks() if m.id and m.id.startswith("captchala_django.")]
    assert {m.id for m in raised} >= {"captchala_django.E004", "captchala_django.E005"}
    for message in raised:
        expected = {"Error": Error, "Warning": Warning}[check_catalogue.level(message.id)]
        assert isinstance(message, expected), message.id


def test_every_outcome_code_has_its_meaning():
    assert set(MEANING) == set(Code)
    assert all(MEANING[code].strip() for code in Code)


def test_every_setting_has_its_meaning_for_the_settings_page():
    assert all(spec.doc.strip() for spec in SETTINGS.values())


def test_every_check_a_spec_names_is_a_system_check():
    ids = {v for k, v in vars(checks.Codes).items() if k.isupper()}
    for spec in SETTINGS.values():
        rule = spec.check
        if rule is None:
            continue
        assert isinstance(rule, (Range, OneOf, Fields, ByHand))
        assert rule.id in ids, spec.name
        if isinstance(rule, ByHand):
            assert rule.function in {c.__name__ for c in checks.ALL_CHECKS} | {
                "check_sandbox_in_production"
            }, spec.name
