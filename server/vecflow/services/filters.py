"""The search filter language, parsed and checked into a filter tree (vecflow.vectors.milvus.filters renders it).

    filter     := or_expr
    or_expr    := and_expr ("OR" and_expr)*
    and_expr   := unary ("AND" unary)*
    unary      := "NOT" unary | "(" or_expr ")" | comparison
    comparison := field op value | field "IN" "[" value ("," value)* "]" | field "STARTS_WITH" string
    op         := "=" | "!=" | "<" | "<=" | ">" | ">="
    field      := name ("." name)*          name: letters, digits, "_" (not starting with a digit)
    value      := "double-quoted string" | number | true | false

Keywords are case-insensitive. Typed fields (for vector stores: file_id, file_name, chunk_index, page,
section) are compared directly; any other field is looked up in the JSON column (a store file's attributes, an
item's payload; `item_info.x` reads item_info). STARTS_WITH matches strings that begin with the value (a
section and its subsections: `section STARTS_WITH "2 Basic Elements"`). Example: `category = "news" AND
year >= 2020`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vecflow.vectors.milvus import And, Comparison, Field, Filter, Membership, Not, Number, Or, Prefix, Value

CHUNK_FIELDS = {"file_id": "str", "file_name": "str", "chunk_index": "int", "page": "int", "section": "str"}
MAX_FILTER = 4096
MAX_DEPTH = 32  # nested parentheses and NOTs
_ESCAPES = {'"': '"', "\\": "\\", "/": "/"}

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
      | (?P<op><=|>=|!=|=|<|>)
      | (?P<punct>[()\[\],])
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    )""",
    re.VERBOSE,
)


class FilterError(ValueError):
    """A filter that does not follow the grammar; the message points at the problem."""


def _unquote(quoted: str, pos: int) -> str:
    """The value of a double-quoted string token. Escapes: \\" \\\\ \\/ and \\uXXXX (not a control
    character or a lone surrogate); anything else after a backslash is an error."""
    out: list[str] = []
    i, end = 1, len(quoted) - 1
    while i < end:
        c = quoted[i]
        if c != "\\":
            if ord(c) < 0x20 or ord(c) == 0x7F or 0xD800 <= ord(c) <= 0xDFFF:
                raise FilterError(f"control characters are not allowed in strings (position {pos + i + 1})")
            out.append(c)
            i += 1
            continue
        nxt = quoted[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        digits = quoted[i + 2 : i + 6]
        if nxt == "u" and (len(digits) != 4 or any(d not in "0123456789abcdefABCDEF" for d in digits)):
            raise FilterError(f"'\\u' at position {pos + i + 1} must be followed by four hex digits")
        if nxt != "u":
            raise FilterError(
                f"unknown escape {quoted[i : i + 2]!r} at position {pos + i + 1}; "
                'strings allow \\" \\\\ \\/ and \\uXXXX (four hex digits)'
            )
        code = int(digits, 16)
        if code < 0x20 or code == 0x7F or 0xD800 <= code <= 0xDFFF:
            raise FilterError(
                f"escape {quoted[i : i + 6]!r} at position {pos + i + 1} is a control character or a lone surrogate"
            )
        out.append(chr(code))
        i += 6
    return "".join(out)


@dataclass
class _Tok:
    kind: str
    text: str
    pos: int


def _tokens(text: str) -> list[_Tok]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise FilterError(f"unexpected character {text[pos:].lstrip()[:1]!r} at position {pos + 1}")
        kind = match.lastgroup or ""
        out.append(_Tok(kind, match.group(kind), match.start(kind)))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str, typed: dict[str, str], json_column: str, json_columns: frozenset[str]) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.depth = 0
        self.typed = typed
        self.json_column = json_column
        self.json_columns = json_columns

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise FilterError("the filter ends too early")
        self.i += 1
        return tok

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        if tok is not None and tok.kind == "word" and tok.text.upper() == word:
            self.i += 1
            return True
        return False

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.text != text:
            raise FilterError(f"expected {text!r} at position {tok.pos + 1}, found {tok.text!r}")

    def parse(self) -> Filter:
        expr = self.or_expr()
        tok = self.peek()
        if tok is not None:
            raise FilterError(f"unexpected {tok.text!r} at position {tok.pos + 1}; join conditions with AND or OR")
        return expr

    def or_expr(self) -> Filter:
        parts = [self.and_expr()]
        while self.keyword("OR"):
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_expr(self) -> Filter:
        parts = [self.unary()]
        while self.keyword("AND"):
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def unary(self) -> Filter:
        tok = self.peek()
        if tok is not None and (tok.text == "(" or tok.text.upper() == "NOT"):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise FilterError(
                    f"nests parentheses and NOT more than {MAX_DEPTH} levels deep (position {tok.pos + 1})"
                )
            self.i += 1
            inner: Filter
            if tok.text == "(":
                inner = self.or_expr()
                self.expect(")")
            else:
                inner = Not(self.unary())
            self.depth -= 1
            return inner
        return self.comparison()

    def field(self) -> tuple[Field, str | None]:
        tok = self.take()
        if tok.kind != "word" or tok.text.upper() in {"AND", "OR", "NOT", "IN", "STARTS_WITH", "TRUE", "FALSE"}:
            raise FilterError(f"expected a field name at position {tok.pos + 1}, found {tok.text!r}")
        if tok.text in self.typed:
            return Field(tok.text), self.typed[tok.text]
        parts = tok.text.split(".")
        column = self.json_column
        if parts[0] in self.json_columns and len(parts) > 1:
            column, parts = parts[0], parts[1:]
        return Field(column, tuple(parts)), None

    def value(self, kind: str | None) -> Value:
        tok = self.take()
        if tok.kind == "string":
            if kind == "int":
                raise FilterError(f"a number is expected at position {tok.pos + 1}, found a string")
            return _unquote(tok.text, tok.pos)
        if tok.kind == "number":
            if kind == "str":
                raise FilterError(f"a string is expected at position {tok.pos + 1}, found a number")
            return Number(tok.text)
        if tok.kind == "word" and tok.text.lower() in ("true", "false"):
            return tok.text.lower() == "true"
        raise FilterError(f'expected a value (a "string", a number, true or false) at position {tok.pos + 1}')

    def comparison(self) -> Filter:
        field, kind = self.field()
        if self.keyword("IN"):
            self.expect("[")
            values = [self.value(kind)]
            while (tok := self.peek()) is not None and tok.text == ",":
                self.i += 1
                values.append(self.value(kind))
            self.expect("]")
            return Membership(field, tuple(values))
        if self.keyword("STARTS_WITH"):
            tok = self.peek()
            if kind == "int" or tok is None or tok.kind != "string":
                where = f"position {tok.pos + 1}" if tok is not None else "the end"
                raise FilterError(f'STARTS_WITH needs a "string" (of a text field) at {where}')
            return Prefix(field, _unquote(self.take().text, tok.pos))
        tok = self.take()
        if tok.kind != "op":
            raise FilterError(f"expected an operator (=, !=, <, <=, >, >=, IN, STARTS_WITH) at position {tok.pos + 1}")
        return Comparison(field, tok.text, self.value(kind))


def columns(node: Filter | None) -> set[str]:
    """The columns a filter tree reads (typed fields by name, JSON columns by theirs)."""
    if node is None:
        return set()
    if isinstance(node, Not):
        return columns(node.operand)
    if isinstance(node, And | Or):
        return set().union(*(columns(operand) for operand in node.operands))
    return {node.field.column}


def parse_filter(
    text: str,
    prefix: str = "attributes",
    typed: dict[str, str] | None = None,
    json_columns: frozenset[str] = frozenset(),
) -> Filter | None:
    """Parse and check a filter (None for an empty one); FilterError if invalid.

    `typed` maps the typed columns to "str" or "int" (default CHUNK_FIELDS); other fields are paths into
    the JSON column `prefix`, or into one of `json_columns` when the path starts with its name.
    """
    text = text.strip()
    if not text:
        return None
    if len(text) > MAX_FILTER:
        raise FilterError(f"filters are limited to {MAX_FILTER} characters")
    return _Parser(text, CHUNK_FIELDS if typed is None else typed, prefix, json_columns).parse()
