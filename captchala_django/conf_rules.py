"""The rules a setting's value must follow (:mod:`captchala_django.conf`'s specs): a range,
a list of values, a dict of fields, or a check by hand. System checks derive their range and
list checks from these (:func:`captchala_django.checks.check_settings`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias


@dataclass(frozen=True)
class Range:
    """A number above ``low`` (or from ``low``, ``low_included``) and at most ``high``;
    ``whole``: an int; ``optional``: or None. A bool is never a number here."""

    id: str
    low: float
    high: float
    whole: bool = False
    optional: bool = False
    low_included: bool = False

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.optional
        kinds: tuple[type, ...] = (int,) if self.whole else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            return False
        number = float(value)
        above = self.low <= number if self.low_included else self.low < number
        return above and number <= self.high

    def describe(self) -> str:
        kind = "a whole number" if self.whole else "a number"
        if self.low_included:
            bounds = f"{kind} from {self.low:g} to {self.high:g}"
        else:
            bounds = f"{kind} above {self.low:g} and at most {self.high:g}"
        return f"None or {bounds}" if self.optional else bounds


@dataclass(frozen=True)
class OneOf:
    """One of ``choices`` (compared as they are: ``"ALLOW"`` is not ``"allow"``)."""

    id: str
    choices: tuple[Any, ...]

    def accepts(self, value: Any) -> bool:
        return value in self.choices

    def describe(self) -> str:
        return f"one of {self.choices}"


@dataclass(frozen=True)
class Fields:
    """A dict of these keys only (each may be left out), each value accepted by its own
    rule: a :class:`Range`, or ``bool``; ``ordered``: the first key's value is at most the
    second's."""

    id: str
    fields: tuple[tuple[str, Range | type], ...]
    ordered: tuple[str, str] | None = None

    def accepts(self, value: Any) -> bool:
        rules = dict(self.fields)
        if not isinstance(value, dict) or set(value) - set(rules):
            return False
        for key, item in value.items():
            rule = rules[key]
            if not (rule.accepts(item) if isinstance(rule, Range) else isinstance(item, bool)):
                return False
        low, high = self.ordered or ("", "")
        return not (low in value and high in value and value[low] > value[high])

    def describe(self) -> str:
        parts = [
            f"{key!r} ({rule.describe() if isinstance(rule, Range) else 'a bool'})"
            for key, rule in self.fields
        ]
        order = f", {self.ordered[0]!r} at most {self.ordered[1]!r}" if self.ordered else ""
        return f"a dict of {', '.join(parts)}{order}"


@dataclass(frozen=True)
class ByHand:
    """More than a range or a list (an import, a dict's keys, networks, a pairing with
    other settings): checked by ``function`` of :mod:`captchala_django.checks`."""

    id: str
    function: str


#: What a value may be; None: anything of its type (an environment value that does not
#: parse as its type is error E009, like any other).
Check: TypeAlias = "Range | OneOf | Fields | ByHand | None"
