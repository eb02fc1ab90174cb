"""The README's settings table is the one the specs generate (``scripts/settings-table``)."""

import importlib.util
import subprocess
import sys
from importlib.machinery import SourceFileLoader
from pathlib import Path

import pytest

from captchala_django import checks
from captchala_django.conf import SETTINGS, ByHand, Fields, OneOf, Range

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "settings-table"


def _load_script():
    loader = SourceFileLoader("settings_table", str(SCRIPT))
    spec = importlib.util.spec_from_loader("settings_table", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


table = _load_script()


def _readme_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    _head, _start, rest = text.partition(table.START + "\n")
    block, _end, _tail = rest.partition(table.END)
    return block


def test_the_readme_table_is_the_one_the_specs_generate():
    assert _readme_block() == table.render(SETTINGS.values()), (
        "README.md's settings table differs from the specs in captchala_django/conf.py: "
        "run scripts/settings-table --write"
    )


def test_every_setting_has_one_row_and_a_meaning():
    rows = [line for line in _readme_block().splitlines() if line.startswith("| `CAPTCHALA_")]
    assert [row.split("`")[1] for row in rows] == list(SETTINGS)
    assert all(spec.doc.strip() for spec in SETTINGS.values())


def test_write_rewrites_only_the_block():
    text = f"intro\n{table.START}\n| stale |\n{table.END}\noutro\n"
    assert table.replace_block(text, "| fresh |\n") == (
        f"intro\n{table.START}\n| fresh |\n{table.END}\noutro\n"
    )
    with pytest.raises(SystemExit):
        table.replace_block("no markers here\n", "| fresh |\n")


def test_the_script_checks_the_readme():
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr


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
