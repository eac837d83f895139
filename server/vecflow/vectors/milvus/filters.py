"""Search filters as a tree (built by services/filters.py from the user's filter text) and their rendering
as a Milvus boolean expression with every value escaped."""

from __future__ import annotations

import json
from dataclasses import dataclass

OPS = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
NEGATED = {"=": "!=", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


@dataclass(frozen=True, slots=True)
class Field:
    """A compared field: a typed column (no path), or a path of keys into a JSON column."""

    column: str
    path: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Number:
    """A number, kept as the filter spelled it."""

    text: str


Value = str | Number | bool


@dataclass(frozen=True, slots=True)
class Comparison:
    """`field op value`, op one of = != < <= > >=."""

    field: Field
    op: str
    value: Value


@dataclass(frozen=True, slots=True)
class Membership:
    """`field IN [values]`."""

    field: Field
    values: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class Prefix:
    """`field STARTS_WITH "text"`: a string field that begins with `prefix`.

    Rendered as a range, ``field >= "prefix" and field < "prefiy"`` (the prefix with its last character
    incremented), not as ``like "prefix%"``: `like` treats ``%`` and ``_`` in the prefix as wildcards, and the
    escape for them (a backslash before ``%``) crashes milvus-lite's expression parser."""

    field: Field
    prefix: str


@dataclass(frozen=True, slots=True)
class Not:
    """`NOT operand`."""

    operand: Filter


@dataclass(frozen=True, slots=True)
class And:
    """`operand AND operand ...` (two or more)."""

    operands: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """`operand OR operand ...` (two or more)."""

    operands: tuple[Filter, ...]


Filter = Comparison | Membership | Prefix | Not | And | Or


def render_filter(node: Filter | None) -> str:
    """`node` as a Milvus expression ("" for no filter).

    NOT is pushed down to the comparisons (De Morgan; `=` ↔ `!=`, `<` ↔ `>=`, `in` ↔ `not in`, a prefix's
    range ↔ its outside),
    because milvus-lite rejects a `not` node.
    """
    return "" if node is None else _render(node, False)


def _render(node: Filter, negate: bool) -> str:
    if isinstance(node, Not):
        return _render(node.operand, not negate)
    if isinstance(node, And | Or):
        joiner = " and " if isinstance(node, And) != negate else " or "
        return "(" + joiner.join(_render(operand, negate) for operand in node.operands) + ")"
    if isinstance(node, Membership):
        values = ", ".join(_value(v) for v in node.values)
        return f"{_field(node.field)} {'not in' if negate else 'in'} [{values}]"
    if isinstance(node, Prefix):
        return _prefix(node, negate)
    op = NEGATED[node.op] if negate else node.op
    return f"{_field(node.field)} {OPS[op]} {_value(node.value)}"


def _successor(prefix: str) -> str | None:
    """The least string greater than every string starting with `prefix` (None when there is none)."""
    stripped = prefix.rstrip("\U0010ffff")
    if not stripped:
        return None
    code = ord(stripped[-1]) + 1
    if 0xD800 <= code <= 0xDFFF:  # surrogates are no characters: the next one is U+E000
        code = 0xE000
    return stripped[:-1] + chr(code)


def _prefix(node: Prefix, negate: bool) -> str:
    field, low, high = _field(node.field), _value(node.prefix), _successor(node.prefix)
    if high is None:
        return f"{field} {'<' if negate else '>='} {low}"
    if negate:
        return f"({field} < {low} or {field} >= {_value(high)})"
    return f"({field} >= {low} and {field} < {_value(high)})"


def _field(field: Field) -> str:
    return field.column + "".join(f'["{p}"]' for p in field.path)


def _value(value: Value) -> str:
    if isinstance(value, Number):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    # Milvus does not decode \uXXXX escapes: keep non-ASCII characters as they are.
    return json.dumps(value, ensure_ascii=False)
