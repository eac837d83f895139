"""Text helpers shared by the parsers: cleaning, language detection, dates, authors and titles."""

from __future__ import annotations

import re
import threading
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from vecflow.pipeline.parse.model import DocumentMetadata

_LANGDETECT_SEED = 0


_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})
# Control characters other than tab and newline (form feeds become newlines first).
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


def clean(text: str) -> str:
    """Newlines normalised, control characters and ligatures replaced, NFC, stripped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    text = _CONTROLS.sub("", text).translate(_LIGATURES)
    return unicodedata.normalize("NFC", text).strip()


def language_code(value: Any) -> str | None:
    """The ISO 639-1 part of a language tag ("en-US" -> "en"), or None when it has none."""
    if not isinstance(value, str):
        return None
    primary = value.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if re.fullmatch(r"[a-z]{2}", primary) else None


_langdetect_lock = threading.Lock()


def language_of(text: str) -> str | None:
    """The ISO 639-1 code of the language `text` is written in, or None when it cannot be told."""
    sample = text[:10_000]
    if sum(ch.isalpha() for ch in sample) < 20:
        return None
    from langdetect import detector_factory
    from langdetect.lang_detect_exception import LangDetectException

    with _langdetect_lock:  # profile loading is not thread-safe
        detector_factory.init_factory()
        factory = detector_factory._factory
    if factory is None:  # pragma: no cover - init_factory always sets it
        return None
    detector = factory.create()
    detector.seed = _LANGDETECT_SEED  # deterministic: the same text always gets the same answer
    detector.append(sample)
    try:
        return language_code(detector.detect())
    except LangDetectException:
        return None


def first_line_title(text: str) -> str | None:
    for line in text.splitlines()[:200]:
        line = line.strip().lstrip("#").strip()
        if any(ch.isalnum() for ch in line):
            return shorten(line)
    return None


def shorten(value: str, limit: int = 200) -> str:
    value = " ".join(value.split())
    if len(value) <= limit:
        return value
    cut = value[:limit].rsplit(" ", 1)[0]
    return (cut or value[:limit]) + "…"


def split_authors(value: Any) -> list[str]:
    if not isinstance(value, str):
        return []
    parts = re.split(r"\s*;\s*|\s+and\s+|\s*&\s*|\n", value)
    return [p.strip() for p in parts if p.strip()]


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def properties_metadata(
    title: str | None, author: Any, created: datetime | None, modified: datetime | None, language: Any
) -> DocumentMetadata:
    """Metadata from a document's own properties (Office core properties, OpenDocument meta), as stored."""
    return DocumentMetadata(
        title=clean(title or "") or None,
        authors=split_authors(author),
        created=iso(created),
        modified=iso(modified),
        language=language_code(language),
    )


def iso_text(value: str | None) -> str | None:
    """A date written by a person or a tool, as ISO 8601 when it is one (dates keep their precision), else None."""
    if not value:
        return None
    value = value.strip().strip("\"'")
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return datetime.strptime(value, "%Y-%m-%d").date().isoformat()
        return datetime.fromisoformat(value).isoformat()
    except ValueError:
        return None


_PDF_DATE = re.compile(
    r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?\s*(?:(Z)|([+-])(\d{2})'?(\d{2})?'?)?",
)


def pdf_date(value: Any) -> str | None:
    """A PDF date string ("D:20240103093826+01'00'") in ISO 8601, or None when it is not one."""
    if not isinstance(value, str):
        return None
    match = _PDF_DATE.match(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, zulu, sign, tz_h, tz_m = match.groups()
    tz: timezone | None = None
    if zulu:
        tz = UTC
    elif sign:
        offset = timedelta(hours=int(tz_h), minutes=int(tz_m or 0))
        tz = timezone(-offset if sign == "-" else offset)
    try:
        moment = datetime(
            int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0), int(second or 0), tzinfo=tz
        )
    except ValueError:
        return None
    return moment.isoformat()
