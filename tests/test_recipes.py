"""The README's recipes are taken from files the suite runs: each block marked
``<!-- recipe: PATH -->`` has its lines, in order, in that file."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECIPE = re.compile(r"<!-- recipe: (\S+) -->\n```\w*\n(.*?)```", re.S)


def recipes() -> list[tuple[str, str]]:
    return RECIPE.findall((ROOT / "README.md").read_text())


def lines_in_order(block: str, text: str) -> list[str]:
    """The block's lines that are not found, in order, among the file's lines."""
    source = [line.rstrip() for line in text.splitlines()]
    missing, at = [], 0
    for line in (x.rstrip() for x in block.splitlines()):
        if not line:
            continue
        try:
            at = source.index(line, at) + 1
        except ValueError:
            missing.append(line)
    return missing


def test_every_recipe_is_in_its_tested_file():
    found = recipes()
    assert len(found) >= 2
    for path, block in found:
        assert (ROOT / path).is_file(), path
        assert lines_in_order(block, (ROOT / path).read_text()) == [], path


def test_a_recipe_that_drifted_from_its_file_is_caught():
    assert lines_in_order(
        "protect_admin_login(admin.site, action='x')", "protect_admin_login(admin.site)"
    )
