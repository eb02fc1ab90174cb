"""The package's shape: which module may import which, and how large one may grow.

Read from the source with ``ast`` (nothing is imported), so a new import that
closes a circle, or a low module that reaches up into a front door, fails here
before it fails as an import error in some order of loading.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "captchala_django"

#: Layers, lowest first: a module may import its own layer's modules (without a circle)
#: and lower ones, never a higher one. A name not listed takes the layer of its closest
#: listed parent package.
LAYERS: list[tuple[str, ...]] = [
    # Facts: settings, enums, errors, models and the pure helpers on them.
    (
        "captchala_django",
        "captchala_django.codes",
        "captchala_django.check_catalogue",
        "captchala_django.exceptions",
        "captchala_django.conf",
        "captchala_django.actions",
        "captchala_django.models",
        "captchala_django.signals",
        "captchala_django.ip",
        "captchala_django.tokens",
        "captchala_django.scopes",
        "captchala_django.request_context",
        # Metrics and traces: called from every layer, importing only the libraries.
        "captchala_django.observe",
        "captchala_django.contrib.prometheus",
        "captchala_django.contrib.opentelemetry",
    ),
    # The provider: its client, and the local emulator of it.
    (
        "captchala_django.client",
        "captchala_django._transport",
        "captchala_django.sandbox",
        "captchala_django.budgets",
    ),
    # The write path.
    ("captchala_django.checkpoints",),
    # What reads and runs on the write path: the guard, the read side, the chores.
    (
        "captchala_django.guard",
        "captchala_django.insights",
        "captchala_django.report",
        "captchala_django.verdict",
        "captchala_django.dashboard",
        "captchala_django.cleanup",
        "captchala_django.server_tokens",
        "captchala_django.challenge",
        "captchala_django.stepup",
        "captchala_django.under_attack",
    ),
    # Front doors and the site's wiring.
    (
        "captchala_django.widgets",
        "captchala_django.fields",
        "captchala_django.middleware",
        "captchala_django.forms",
        "captchala_django.wizards",
        "captchala_django.admin_login",
        "captchala_django.contrib",
        "captchala_django.decorators",
        "captchala_django.drf",
        "captchala_django.views",
        "captchala_django.urls",
        "captchala_django.admin",
        "captchala_django.templatetags",
        "captchala_django.management",
        "captchala_django.testing",
        "captchala_django.pytest_plugin",
        "captchala_django.checks",
        "captchala_django.apps",
    ),
]

MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60


def _sources(top: str) -> list[Path]:
    return sorted(p for p in (ROOT / top).rglob("*.py") if "migrations" not in p.parts)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in _sources(PACKAGE)}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _imports(name: str) -> set[str]:
    """The package's modules that ``name`` imports (at any depth of its code)."""
    package = name if _is_package(name) else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != PACKAGE:
                continue
            # ``from . import ledger`` names a module; ``from .x import name`` a name in one.
            subs = {f"{target}.{a.name}" for a in node.names} & MODULES.keys()
            found.update(subs or {target})
            if subs and len(subs) < len(node.names):
                found.add(target)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name) for name in MODULES}


def layer_of(name: str) -> int:
    while True:
        for index, names in enumerate(LAYERS):
            if name in names:
                return index
        if "." not in name:
            raise AssertionError(f"{name} is in no layer: add it to LAYERS")
        name = name.rpartition(".")[0]


def test_every_module_has_a_layer() -> None:
    for name in MODULES:
        layer_of(name)


def test_no_module_imports_a_higher_layer() -> None:
    upward = [
        f"{name} (layer {layer_of(name)}) imports {dep} (layer {layer_of(dep)})"
        for name, deps in GRAPH.items()
        for dep in sorted(deps)
        if layer_of(dep) > layer_of(name)
    ]
    assert upward == []


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of ``graph``, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                return stack[stack.index(dep) :] + [dep]
            if dep not in state and (found := visit(dep)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_the_import_graph_has_no_circle() -> None:
    # A package's ``__init__`` that re-exports its modules imports them, and they may
    # import each other through ``from . import x``: that is not a circle of ours.
    graph = {
        name: {d for d in deps if not (_is_package(d) and name.startswith(d + "."))}
        for name, deps in GRAPH.items()
    }
    assert _cycle(graph) is None


def test_the_circle_finder_finds_one() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("top", [PACKAGE, "bench"])
def test_no_module_or_function_is_too_long(top: str) -> None:
    too_long = []
    for path in _sources(top):
        text = path.read_text()
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(ROOT)}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {length}")
    assert too_long == []


#: Names users import from where they were before the read side and the challenge page
#: moved: kept working.
OLD_PATHS = {
    "captchala_django.report": ("report", "breakdown", "decisions", "failures"),
    "captchala_django.verdict": ("judge", "gather", "Verdict", "Evidence", "MIN_FAILURES"),
    "captchala_django.dashboard": ("dashboard_data", "Dashboard"),
    "captchala_django.decorators": ("RETRY_AFTER", "checkpoint_required"),
    "captchala_django.budgets": ("BudgetExceeded", "ValidateBudgetExceeded"),
    "captchala_django.sandbox.pytest_plugin": ("sandbox_settings",),
}


@pytest.mark.parametrize("module", sorted(OLD_PATHS))
def test_old_import_paths_still_work(module: str) -> None:
    imported = importlib.import_module(module)
    assert [name for name in OLD_PATHS[module] if not hasattr(imported, name)] == []
