"""Reference tables generated from the code's own definitions: the settings (their specs in
``captchala_django.conf``) and the failure classes (``captchala_django.models.FailureClass``).
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
        container = nodes.container()
        self.state.nested_parse(StringList(lines), self.content_offset, container)
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


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("captchala-settings", SettingsTable)
    app.add_directive("captchala-failure-classes", FailureClassesTable)
    return {"parallel_read_safe": True}
