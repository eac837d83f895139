"""Media type detection: what a file really is, from its first bytes.

`detect_type` looks at the content first (magic bytes, byte-order marks,
whether the bytes decode as text at all) and only then uses the file name's
extension and the declared type (an upload's Content-Type, a URL response
header) as hints: a hint can pick between formats that share a shape (Markdown,
CSV and plain text are all just text), but it never turns a PNG into a PDF.

An empty file has no content to look at, so the hints decide its type (plain
text when there are none); parsing it then fails with EMPTY_FILE, which says
more to a person than "unsupported type" would.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import PurePosixPath

HEAD_SIZE = 64 * 1024
"""How many leading bytes of a file callers pass as `head`."""

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
HTML = "text/html"
MARKDOWN = "text/markdown"
CSV = "text/csv"
TSV = "text/tab-separated-values"
JSON = "application/json"
PLAIN = "text/plain"
ZIP = "application/zip"
GZIP = "application/gzip"
PNG = "image/png"
JPEG = "image/jpeg"
GIF = "image/gif"
MSWORD = "application/msword"
OLE = "application/x-ole-storage"
OCTET_STREAM = "application/octet-stream"

SUPPORTED: frozenset[str] = frozenset({PDF, DOCX, HTML, MARKDOWN, CSV, TSV, JSON, PLAIN})
"""Media types `vecflow.pipeline.parse.parse_document` can turn into text."""

_ALIASES = {
    "application/x-pdf": PDF,
    "application/xhtml+xml": HTML,
    "text/x-markdown": MARKDOWN,
    "text/x-md": MARKDOWN,
    "application/csv": CSV,
    "text/x-csv": CSV,
    "application/x-csv": CSV,
    "text/tsv": TSV,
    "text/json": JSON,
    "application/x-json": JSON,
    "application/x-gzip": GZIP,
    "application/x-zip-compressed": ZIP,
    "image/jpg": JPEG,
    "binary/octet-stream": OCTET_STREAM,
}

_EXTENSIONS = {
    ".pdf": PDF,
    ".docx": DOCX,
    ".html": HTML,
    ".htm": HTML,
    ".xhtml": HTML,
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".mdown": MARKDOWN,
    ".mkd": MARKDOWN,
    ".csv": CSV,
    ".tsv": TSV,
    ".json": JSON,
    ".txt": PLAIN,
    ".text": PLAIN,
    ".zip": ZIP,
    ".gz": GZIP,
    ".png": PNG,
    ".jpg": JPEG,
    ".jpeg": JPEG,
    ".gif": GIF,
    ".doc": MSWORD,
}

# Types a text hint may choose when the content is text (HTML by extension covers fragments without <html>).
_TEXT_HINTS = (MARKDOWN, CSV, TSV, JSON, HTML)
# Declared types that say nothing about the content.
_GENERIC = frozenset({"", OCTET_STREAM, PLAIN, "application/unknown", "application/binary"})

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_LOCAL = b"PK\x03\x04"
_HTML_START = re.compile(
    r"^(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>])",
    re.IGNORECASE | re.DOTALL,
)
# C0 controls other than tab, LF, FF, CR and ESC, plus DEL: rare in real text, common in binaries.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")


def normalize_media_type(value: str) -> str:
    """`value` lowercased, without parameters (`; charset=...`), with common aliases mapped."""
    base = value.split(";", 1)[0].strip().lower()
    return _ALIASES.get(base, base)


def is_supported(media_type: str) -> bool:
    """Whether `parse_document` can parse this media type (parameters and aliases allowed)."""
    return normalize_media_type(media_type) in SUPPORTED


def detect_type(head: bytes, filename: str = "", declared: str = "") -> str:
    """The media type of a file whose first bytes (up to `HEAD_SIZE`) are `head`.

    Content decides first; `filename`'s extension and the `declared` type are
    hints (the declared one wins over the extension when both are specific).
    """
    hint = _hint(filename, declared)
    if not head:
        return hint or PLAIN

    binary = _binary_type(head, hint)
    if binary is not None:
        return binary

    text = head_as_text(head)
    if text is None:
        # Not text and no magic we know: trust a specific declared binary type, else say nothing more.
        declared_type = normalize_media_type(declared)
        if declared_type not in _GENERIC and declared_type not in SUPPORTED and not declared_type.startswith("text/"):
            return declared_type
        return OCTET_STREAM

    if _HTML_START.match(text.lstrip("\ufeff \t\r\n")):
        return HTML
    if hint in _TEXT_HINTS:
        return hint
    if _looks_like_json(text, truncated=len(head) >= HEAD_SIZE):
        return JSON
    return PLAIN


def head_as_text(head: bytes) -> str | None:
    """`head` decoded when it looks like text (BOM, UTF-8 or a single-byte encoding), else None.

    Lenient on purpose: the last multi-byte character may be cut off at the
    end of the head. Exact decoding of the whole file is the parser's job.
    """
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return head[len(bom) :].decode(encoding, errors="replace")
    if b"\x00" in head:
        return _utf16_without_bom(head)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3 and exc.reason in ("unexpected end of data", "invalid continuation byte"):
            text = head[: exc.start].decode("utf-8", errors="replace")
        else:
            # Not UTF-8: a legacy single-byte encoding maps every byte, so judge by control characters.
            text = head.decode("latin-1")
    if len(_CONTROL.findall(text)) > max(2, len(text) // 200):
        return None
    return text


def _utf16_without_bom(head: bytes) -> str | None:
    sample = head[: len(head) - len(head) % 2][:4096]
    if len(sample) < 16:
        return None
    even_zeros = sample[0::2].count(0) / (len(sample) / 2)
    odd_zeros = sample[1::2].count(0) / (len(sample) / 2)
    if odd_zeros > 0.3 and even_zeros < 0.05:
        encoding = "utf-16-le"
    elif even_zeros > 0.3 and odd_zeros < 0.05:
        encoding = "utf-16-be"
    else:
        return None
    text = head[: len(head) - len(head) % 2].decode(encoding, errors="replace")
    if "\ufffd" in text[:-1] or len(_CONTROL.findall(text)) > max(2, len(text) // 200):
        return None
    return text


def _hint(filename: str, declared: str) -> str:
    declared_type = normalize_media_type(declared)
    if declared_type not in _GENERIC:
        return declared_type
    suffix = PurePosixPath(filename.replace("\\", "/")).suffix.lower()
    ext_type = _EXTENSIONS.get(suffix, "")
    return ext_type or (declared_type if declared_type == PLAIN else "")


def _binary_type(head: bytes, hint: str) -> str | None:
    pdf_at = head.find(b"%PDF-", 0, 1024)
    # Readers accept the header anywhere in the first KiB, after binary junk; after text it is just a mention.
    if pdf_at == 0 or (pdf_at > 0 and (not head[:pdf_at].strip() or _CONTROL_BYTES.search(head[:pdf_at]))):
        return PDF
    if head.startswith((_ZIP_LOCAL, b"PK\x05\x06", b"PK\x07\x08")):
        return _zip_type(head, hint)
    if head.startswith(_OLE_MAGIC):
        return _ole_type(head, hint)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head.startswith(b"\x1f\x8b"):
        return GZIP
    return None


def _zip_member_names(head: bytes) -> list[str]:
    """Names from the local file headers within `head` (the central directory is at the end, out of reach)."""
    names: list[str] = []
    pos = 0
    while len(names) < 200:
        pos = head.find(_ZIP_LOCAL, pos)
        if pos < 0 or pos + 30 > len(head):
            break
        name_len, extra_len = struct.unpack_from("<HH", head, pos + 26)
        names.append(head[pos + 30 : pos + 30 + name_len].decode("utf-8", errors="replace"))
        pos += 30 + name_len + extra_len
    return names


def _zip_type(head: bytes, hint: str) -> str:
    names = _zip_member_names(head)
    if "word/document.xml" in names or any(n.startswith("word/") for n in names):
        return DOCX
    if hint == DOCX and (not names or "[Content_Types].xml" in names or "_rels/.rels" in names):
        # An OOXML package whose word/ parts lie beyond the head, or one truncated before them:
        # let the DOCX parser accept it or say exactly what is wrong.
        return DOCX
    return ZIP


def _ole_type(head: bytes, hint: str) -> str:
    """OLE compound files: encrypted OOXML (Office puts the encrypted package in one) or legacy Office."""
    if "EncryptedPackage".encode("utf-16-le") in head or "EncryptionInfo".encode("utf-16-le") in head:
        return DOCX
    if "WordDocument".encode("utf-16-le") in head:
        return MSWORD
    # The directory naming the streams may lie beyond the head in a large file: then the name decides.
    return hint if hint in (DOCX, MSWORD) else OLE


def _looks_like_json(text: str, *, truncated: bool) -> bool:
    stripped = text.strip()
    if not stripped or stripped[0] not in "{[":
        return False
    try:
        json.loads(stripped)
    except ValueError:
        if not truncated:
            return False
        # Only the head is here: judge by how it opens.
        after = stripped[1:].lstrip()
        if not after:
            return False
        return after[0] in ('"}' if stripped[0] == "{" else '{["-0123456789tfn]')
    return True
