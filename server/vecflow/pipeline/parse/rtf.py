"""RTF (Rich Text Format): the text, read by striprtf, with the code page the file declares (``\\ansicpg``).

RTF is 7-bit text with escapes for everything else; the bytes are read as Latin-1 so that none is lost, and
striprtf turns ``\\'hh`` and ``\\u`` escapes into characters, dropping pictures, fonts and other groups that
hold no text. A file that does not start with ``{\\rtf`` is not RTF (CORRUPT_FILE).
"""

from __future__ import annotations

from pathlib import Path

from vecflow.pipeline.detect import RTF
from vecflow.pipeline.parse.model import (
    CORRUPT_FILE,
    DocumentMetadata,
    ParsedDocument,
    ParseError,
    ParseLimits,
    library,
    require_text,
    whole,
)
from vecflow.pipeline.parse.text import BLANK_LINES, clean


def _corrupt(detail: str) -> ParseError:
    return ParseError(
        CORRUPT_FILE,
        f"The RTF file is damaged ({detail}). Open it in Word or LibreOffice, save it again, and upload the new copy.",
    )


def parse_rtf(path: Path, charset: str | None, limits: ParseLimits) -> ParsedDocument:
    from striprtf.striprtf import rtf_to_text

    raw = path.read_bytes()
    if not raw.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{\\rtf"):
        raise _corrupt("it does not start with {\\rtf")
    source = raw.decode("latin-1")
    del raw
    try:
        text = rtf_to_text(source, errors="ignore")
    except (ValueError, IndexError, LookupError) as exc:
        raise _corrupt(str(exc) or type(exc).__name__) from exc
    text = require_text(clean(BLANK_LINES.sub("\n\n", text)), "RTF document")
    return ParsedDocument(
        text=text,
        content_type=RTF,
        parser=library("striprtf"),
        pages=whole(text),
        metadata=DocumentMetadata(),
    )
