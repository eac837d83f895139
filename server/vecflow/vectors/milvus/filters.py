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


Filter = Comparison | Membership | Not | And | Or


def render_filter(node: Filter | None) -> str:
    """`node` as a Milvus expression ("" for no filter).

    NOT is pushed down to the comparisons (De Morgan; `=` ↔ `!=`, `<` ↔ `>=`, `in` ↔ `not in`),
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
    op = NEGATED[node.op] if negate else node.op
    return f"{_field(node.field)} {OPS[op]} {_value(node.value)}"


def _field(field: Field) -> str:
    return field.column + "".join(f'["{p}"]' for p in field.path)


def _value(value: Value) -> str:
    if isinstance(value, Number):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    # Milvus does not decode \uXXXX escapes: keep non-ASCII characters as they are.
    return json.dumps(value, ensure_ascii=False)
