"""Snippets that cannot rot: every code block of the documentation (``docs/**/*.md``) and of
the README is taken from a file the test suite runs, or is a command this repository has.

Each fenced block is one of:

- a MyST directive (```` ```{name} ````): Sphinx builds it (``make docs``, warnings as
  errors), and a ``literalinclude`` names a file that exists;
- marked ``<!-- recipe: PATH -->`` on the line above: its lines, in order, are lines of PATH,
  a file the suite runs (a test, the example project, the package itself);
- marked ``<!-- quickstart: FILE -->`` (``tests/test_quickstart.py`` runs those in a fresh
  project);
- marked ``<!-- commands -->``: each line is a command of this repository (a Makefile target,
  one of the package's or Django's management commands, an extra ``pip`` installs, ...).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "docs").rglob("*.md"))
#: The pages, and the files they include.
INCLUDED = ["README.md", "CONTRIBUTING.md", "SECURITY.md", "CHANGELOG.md"]
DOCUMENTS = [*(ROOT / n for n in INCLUDED), *(p for p in PAGES if "_build" not in p.parts)]
FENCE = re.compile(
    r"^(?P<fence>`{3,}|:{3,})(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=fence)\s*$", re.S | re.M
)
MARK = re.compile(r"<!-- (recipe|quickstart|quickstart-offline|commands)(?:: (\S+))? -->\s*$")
#: Where a recipe may come from: files the test suite imports, runs or reads.
RUN_BY_THE_SUITE = ("tests/", "example_project/", "captchala_django/", "bench/", "scripts/")


def blocks(path: Path) -> list[tuple[int, str, str, str | None, str | None]]:
    """``(line, info, body, mark kind, mark argument)`` for each fenced block of ``path``."""
    text = path.read_text()
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = MARK.search(before)
        line = text.count("\n", 0, match.start()) + 1
        kind, argument = (mark.group(1), mark.group(2)) if mark else (None, None)
        found.append((line, match["info"].strip(), match["body"], kind, argument))
    return found


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


def _makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][\w-]*):", text, re.M))


def _extras() -> set[str]:
    """The extras and dependency groups of pyproject.toml (no tomllib on Python 3.10)."""
    names, section = set(), ""
    for line in (ROOT / "pyproject.toml").read_text().splitlines():
        if line.startswith("["):
            section = line.strip("[] ")
        elif section in ("project.optional-dependencies", "dependency-groups"):
            key = re.match(r"([a-z0-9_-]+) = ", line)
            names |= {key.group(1)} if key else set()
    return names


def _commands() -> set[str]:
    from django.core.management import get_commands

    return set(get_commands())


def command_problem(line: str) -> str | None:
    """Why ``line`` is not a command this repository has (``None``: it is)."""
    line = line.split("  #", 1)[0].strip()
    if not line or line.startswith("#"):
        return None
    words = shlex.split(line)
    first, rest = words[0], words[1:]
    if first == "make":
        targets = [w for w in rest if "=" not in w] or ["all"]
        unknown = [t for t in targets if t not in _makefile_targets()]
        return f"no Makefile target {unknown}" if unknown else None
    if first in ("python", "python3") and rest[:1] == ["manage.py"]:
        return None if rest[1] in _commands() else f"no management command {rest[1]!r}"
    if first in ("python", "python3") and rest[:1] == ["-m"]:
        module = rest[1].replace(".", "/")
        here = (ROOT / module).is_dir() or (ROOT / f"{module}.py").exists()
        return None if here or rest[1] in ("pip", "pytest", "django") else f"no module {rest[1]}"
    if first == "pip" and rest[:1] == ["install"]:
        for word in rest[1:]:
            named = re.fullmatch(r"captchala-django\[([\w,-]+)\]", word)
            if named and not set(named.group(1).split(",")) <= _extras():
                return f"no extra {named.group(1)}"
            if word == "--group" or word.startswith("-"):
                continue
        groups = [rest[i + 1] for i, w in enumerate(rest[:-1]) if w == "--group"]
        unknown = [g for g in groups if g not in _extras()]
        return f"no dependency group {unknown}" if unknown else None
    if first in ("pytest", "git", "cd", "curl", "django-admin"):
        return None
    if first == "bash" and rest:
        return None if (ROOT / rest[0]).is_file() else f"no script {rest[0]}"
    return f"not a command this repository documents: {first!r}"


ALL_BLOCKS = [(path, *block) for path in DOCUMENTS for block in blocks(path)]


def _id(item: tuple) -> str:
    return f"{item[0].relative_to(ROOT)}:{item[1]}"


@pytest.mark.parametrize("item", ALL_BLOCKS, ids=[_id(i) for i in ALL_BLOCKS])
def test_every_code_block_comes_from_a_tested_file(item):
    path, line, info, body, kind, argument = item
    where = f"{path.relative_to(ROOT)}:{line}"
    if info.startswith("{"):
        if info.startswith("{literalinclude}"):
            target = (path.parent / info.split(None, 1)[1].strip()).resolve()
            assert target.is_file(), f"{where}: {target} does not exist"
        return
    assert kind, f"{where}: a code block without a recipe, quickstart or commands mark"
    if kind == "recipe":
        assert argument and argument.startswith(RUN_BY_THE_SUITE), f"{where}: {argument}"
        source = ROOT / argument
        assert source.is_file(), f"{where}: {argument} does not exist"
        assert lines_in_order(body, source.read_text()) == [], f"{where}: drifted from {argument}"
    elif kind in ("quickstart", "quickstart-offline"):
        assert path.name in ("README.md", "quickstart.md"), where
    else:
        problems = [p for p in map(command_problem, body.splitlines()) if p]
        assert problems == [], f"{where}: {problems}"


def test_the_pages_have_blocks_to_check():
    assert len(ALL_BLOCKS) >= 10


def test_the_readme_is_a_landing_page():
    """What it is, install, the quickstart, versions, the two commands, links: under 200 lines."""
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) < 200
    for heading in ("## Installation", "## Quickstart", "## Supported versions", "make demo"):
        assert heading in text


def test_the_readme_links_to_pages_that_exist():
    text = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(((?:docs/|[A-Z]+\.md)[^)#]*)\)", text)
    assert len(links) >= 20
    assert [link for link in links if not (ROOT / link).exists()] == []


def test_a_recipe_that_drifted_from_its_file_is_caught():
    assert lines_in_order(
        "protect_admin_login(admin.site, action='x')", "protect_admin_login(admin.site)"
    )


@pytest.mark.parametrize(
    "line",
    [
        "make tset",
        "python manage.py captchala_clenup",
        'pip install "captchala-django[nope]"',
        "rm -rf /",
        "pip install --group nope",
    ],
)
def test_a_command_that_is_not_ours_is_caught(line):
    assert command_problem(line)


@pytest.mark.parametrize(
    "line",
    [
        "make demo   # a comment",
        "python manage.py captchala_cleanup --dry-run",
        'pip install "captchala-django[drf,axes]"',
        "pip install --group e2e",
        "python -m captchala_django.sandbox --port 8765 &",
    ],
)
def test_our_commands_pass(line):
    assert command_problem(line) is None
