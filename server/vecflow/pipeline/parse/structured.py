"""JSON: one ``path.to.key: value`` line per leaf value (``items[0].name: x``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vecflow.pipeline.detect import JSON
from vecflow.pipeline.parse.encoding import decode_text
from vecflow.pipeline.parse.model import (
    CORRUPT_FILE,
    EMPTY_FILE,
    PYTHON,
    DocumentMetadata,
    ParsedDocument,
    ParseError,
    ParseLimits,
    require_text,
    whole,
)
from vecflow.pipeline.parse.text import clean, shorten


def _json_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_lines(value: Any) -> list[str]:
    """One ``path: value`` line per leaf, depth first, without recursion."""
    lines: list[str] = []
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, dict):
            if not item:
                if path:
                    lines.append(f"{path}: {{}}")
                continue
            for key in reversed(list(item)):
                stack.append((f"{path}.{key}" if path else str(key), item[key]))
        elif isinstance(item, list):
            if not item:
                if path:
                    lines.append(f"{path}: []")
                continue
            for index in range(len(item) - 1, -1, -1):
                stack.append((f"{path}[{index}]", item[index]))
        else:
            scalar = _json_scalar(item)
            lines.append(f"{path}: {scalar}" if path else scalar)
    return lines


def parse_json(path: Path, charset: str | None, limits: ParseLimits) -> ParsedDocument:
    source = decode_text(path.read_bytes(), charset, "JSON file")
    if not source.strip():
        raise ParseError(EMPTY_FILE, "The JSON file contains only whitespace. Upload a file that has content.")
    try:
        value = json.loads(source)
    except json.JSONDecodeError as exc:
        raise ParseError(
            CORRUPT_FILE,
            f"The file is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}). "
            "Fix the syntax and upload it again.",
        ) from exc
    except RecursionError as exc:
        raise ParseError(
            CORRUPT_FILE, "The JSON file is nested too deeply to parse. Flatten it and upload it again."
        ) from exc
    del source
    text = require_text(clean("\n".join(_json_lines(value))), "JSON file")
    meta = DocumentMetadata()
    if isinstance(value, dict) and isinstance(value.get("title"), str):
        meta.title = shorten(value["title"]) or None
    return ParsedDocument(
        text=text,
        content_type=JSON,
        parser=f"json ({PYTHON})",
        pages=whole(text),
        metadata=meta,
    )
