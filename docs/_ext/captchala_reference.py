"""Reference tables generated from the code's own definitions: the settings (their specs in
``captchala_django.conf``), the system checks (``captchala_django.check_catalogue``), the
failure classes (``captchala_django.models.FailureClass``), the outcome codes
(``captchala_django.codes``) and the management commands (their own argument parsers).
Nothing here is written by hand, so the pages cannot drift from the code."""

from __future__ import annotations

import json
import re
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

_CODE = re.compile(r"`([^`]+)`")


def _rst(text: str) -> str:
    """The specs' Markdown (inline code, bold) as reStructuredText."""
    return _CODE.sub(r"``\1``", str(text))


def _default(spec: Any) -> str:
    if spec.shown:
        return _rst(spec.shown)
    value = spec.default
    if isinstance(value, (str, list, dict)):
        return f"``{json.dumps(value)}``"
    return f"``{value!r}``"


class _Table(SphinxDirective):
    has_content = False
    headers: tuple[str, ...] = ()
    widths: str = "auto"

    def rows(self) -> list[tuple[str, ...]]:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {self.widths}", ""]
        for row in [self.headers, *self.rows()]:
            first, *rest = row
            lines.append(f"   * - {first}")
            lines.extend(f"     - {cell}" for cell in rest)
        return _parse_rst(self, lines)


def _parse_rst(directive: SphinxDirective, lines: list[str]) -> list[nodes.Node]:
    """Parse reStructuredText from a page written in MyST Markdown (``eval-rst``)."""
    container = nodes.container()
    wrapped = ["```{eval-rst}", *lines, "```"]
    directive.state.nested_parse(StringList(wrapped), directive.content_offset, container)
    return container.children


class SettingsTable(_Table):
    headers = ("setting", "default", "meaning")

    def rows(self) -> list[tuple[str, ...]]:
        from captchala_django.conf import SETTINGS

        return [(f"``{s.name}``", _default(s), _rst(s.doc)) for s in SETTINGS.values()]


class FailureClassesTable(_Table):
    headers = ("failure class", "meaning")

    def rows(self) -> list[tuple[str, ...]]:
        from captchala_django.models import FailureClass

        return [(f"``{value}``", str(label)) for value, label in FailureClass.choices]


class ChecksTable(_Table):
    headers = ("id", "level", "when")
    widths = "25 10 65"

    def rows(self) -> list[tuple[str, ...]]:
        from captchala_django.check_catalogue import CHECKS, level

        return [(f"``{cid}``", level(cid), _rst(when)) for cid, when in sorted(CHECKS.items())]


class OutcomeCodesTable(_Table):
    headers = ("code", "meaning")

    def rows(self) -> list[tuple[str, ...]]:
        from captchala_django.codes import MEANING, Code

        return [(f"``{code.value}``", _rst(MEANING[code])) for code in Code]


#: Options every Django command has: listed once, on the page, not per command.
_DJANGO_OPTIONS = {
    "--version",
    "--verbosity",
    "--settings",
    "--pythonpath",
    "--traceback",
    "--no-color",
    "--force-color",
    "--skip-checks",
    "--help",
}


class CommandsReference(SphinxDirective):
    """One section per management command of the package: its help and its options."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from django.core.management import get_commands, load_command_class

        lines: list[str] = []
        for name in sorted(n for n, app in get_commands().items() if app == "captchala_django"):
            parser = load_command_class("captchala_django", name).create_parser("manage.py", name)
            lines += [f"``{name}``", "-" * (len(name) + 4), "", _rst(parser.description or ""), ""]
            rows, usage = [], [f"python manage.py {name}"]
            for action in parser._actions:  # argparse keeps no public list of them
                flags = action.option_strings
                if set(flags) & _DJANGO_OPTIONS or not flags or action.help == "==SUPPRESS==":
                    continue
                shown = " ".join(flags)
                if action.nargs != 0:
                    shown += " " + (
                        "{" + ",".join(action.choices) + "}"
                        if action.choices
                        else (action.metavar or action.dest.upper())
                    )
                usage.append(f"[{shown}]")
                rows.append((", ".join(f"``{f}``" for f in flags), _rst(action.help or "")))
            lines += [".. code-block:: text", "", "   " + " ".join(usage), ""]
            if rows:
                lines += [
                    ".. list-table::",
                    "   :header-rows: 1",
                    "",
                    "   * - option",
                    "     - meaning",
                ]
                for flag, text in rows:
                    lines += [f"   * - {flag}", f"     - {text}"]
                lines.append("")
        return _parse_rst(self, lines)


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("captchala-checks", ChecksTable)
    app.add_directive("captchala-outcome-codes", OutcomeCodesTable)
    app.add_directive("captchala-commands", CommandsReference)
    app.add_directive("captchala-settings", SettingsTable)
    app.add_directive("captchala-failure-classes", FailureClassesTable)
    return {"parallel_read_safe": True}
