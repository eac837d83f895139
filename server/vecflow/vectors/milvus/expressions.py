"""Milvus boolean expressions: quoted literals, tenant scopes, batched ``field in [...]`` lists and the
pre-check of a caller's raw filter expression."""

from __future__ import annotations

import re
from collections.abc import Sequence

from vecflow.vectors.milvus.errors import InvalidFilterError, invalid

MAX_FILTER_CHARS = 65536
DELETE_BATCH = 256

CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_STRING_ESCAPES = set("\\\"'?abfnrtv01234567xuU")  # what may follow a backslash in Milvus' lexer


def lit(value: object, what: str) -> str:
    """`value` as a Milvus string literal; only backslash and double quote need escaping.

    milvus-lite does not understand ``\\uXXXX`` escapes, so other characters are passed as they are;
    control characters are refused (no id contains them, and a raw newline would end the literal).
    """
    if not isinstance(value, str):
        raise invalid(f"{what} must be a string, got {type(value).__name__}")
    if CONTROL.search(value):
        raise invalid(f"{what} must not contain control characters")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def string_literal(value: str) -> str:
    """`value` as a double-quoted Milvus string literal, safe to put in a filter expression."""
    return lit(value, "value")


def members(scope: str, field: str, values: Sequence[str]) -> list[str]:
    """`scope and field in [...]` expressions, DELETE_BATCH values each (none for no values)."""
    return [
        f"{scope} and {field} in [{', '.join(lit(v, field) for v in values[n : n + DELETE_BATCH])}]"
        for n in range(0, len(values), DELETE_BATCH)
    ]


def scope(**values: str) -> str:
    """``name == "value" and ...`` for each tenant field given."""
    return " and ".join(f"{name} == {lit(value, name)}" for name, value in values.items())


def caller_filter(expr: str | None) -> str:
    """The caller's filter, parenthesised, or "" for none; refuses what could escape the parentheses.

    The scan follows Milvus' lexer: strings in single or double quotes; a backslash escapes the next
    character, which must start a C escape (\\\\ \\" \\' \\n \\x.. \\u.... etc.), never a quote or parenthesis.
    Outside strings parentheses must balance and never go below zero; ``{...}`` templates are refused
    (milvus-lite crashes on them, and nothing here passes template values).
    """
    if expr is None:
        return ""
    if not isinstance(expr, str):
        raise InvalidFilterError(f"filter expression must be a string, got {type(expr).__name__}")
    expr = expr.strip()
    if not expr:
        return ""
    if len(expr) > MAX_FILTER_CHARS:
        raise InvalidFilterError(f"filter expression is longer than {MAX_FILTER_CHARS} characters")
    depth, quote, escaped = 0, "", False
    for pos, ch in enumerate(expr, start=1):
        if quote:
            if escaped:
                if ch not in _STRING_ESCAPES:
                    raise InvalidFilterError(f"invalid filter expression: unsupported escape \\{ch} at position {pos}")
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
            elif CONTROL.match(ch):
                raise InvalidFilterError(f"invalid filter expression: control character in a string at position {pos}")
            continue
        if ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise InvalidFilterError(f"invalid filter expression: unbalanced ')' at position {pos}")
        elif ch in "{}":
            raise InvalidFilterError(f"invalid filter expression: unexpected {ch!r} at position {pos}")
    if quote:
        raise InvalidFilterError("invalid filter expression: unterminated string")
    if depth:
        raise InvalidFilterError("invalid filter expression: unbalanced '('")
    return f"({expr})"
