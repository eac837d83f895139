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
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath

HEAD_SIZE = 64 * 1024
"""How many leading bytes of a file callers pass as `head`."""

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EPUB = "application/epub+zip"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
ODP = "application/vnd.oasis.opendocument.presentation"
EML = "message/rfc822"
RTF = "application/rtf"
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
TIFF = "image/tiff"
WEBP = "image/webp"
IMAGES: frozenset[str] = frozenset({PNG, JPEG, TIFF, WEBP, GIF})
"""Image types, parsed by OCR (`vecflow.pipeline.parse.image`)."""
MSWORD = "application/msword"
MSEXCEL = "application/vnd.ms-excel"
MSPOWERPOINT = "application/vnd.ms-powerpoint"
OUTLOOK_MSG = "application/vnd.ms-outlook"
OLE = "application/x-ole-storage"
OCTET_STREAM = "application/octet-stream"

SUPPORTED: frozenset[str] = (
    frozenset({PDF, DOCX, PPTX, XLSX, EPUB, ODT, EML, RTF, HTML, MARKDOWN, CSV, TSV, JSON, PLAIN}) | IMAGES
)
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
    "image/pjpeg": JPEG,
    "image/tif": TIFF,
    "image/x-tiff": TIFF,
    "binary/octet-stream": OCTET_STREAM,
    "text/rtf": RTF,
    "application/x-rtf": RTF,
    "text/richtext": RTF,
    "application/eml": EML,
    "message/eml": EML,
    "application/x-eml": EML,
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
    ".tif": TIFF,
    ".tiff": TIFF,
    ".webp": WEBP,
    ".doc": MSWORD,
    ".pptx": PPTX,
    ".xlsx": XLSX,
    ".epub": EPUB,
    ".odt": ODT,
    ".ods": ODS,
    ".odp": ODP,
    ".eml": EML,
    ".rtf": RTF,
    ".xls": MSEXCEL,
    ".ppt": MSPOWERPOINT,
    ".msg": OUTLOOK_MSG,
}

# Types a text hint may choose when the content is text (HTML by extension covers fragments without <html>).
_TEXT_HINTS = (MARKDOWN, CSV, TSV, JSON, HTML, EML)
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


# What to do with a type vecflow does not parse, where there is something better to say than "convert it".
_UNSUPPORTED_ADVICE = {
    MSWORD: "It is a Word 97-2003 document: save it as .docx",
    MSEXCEL: "It is an Excel 97-2003 workbook: save it as .xlsx",
    MSPOWERPOINT: "It is a PowerPoint 97-2003 presentation: save it as .pptx",
    OUTLOOK_MSG: "It is an Outlook message: save it as .eml or PDF",
    ODS: "It is an OpenDocument spreadsheet: save it as .xlsx",
    ODP: "It is an OpenDocument presentation: save it as .pptx",
    ZIP: "It is an archive: unpack it and upload the files inside",
    GZIP: "It is an archive: unpack it and upload the files inside",
    OLE: "It is a legacy Office file: save it as .docx, .xlsx, .pptx or PDF",
}


def unsupported_advice(media_type: str) -> str:
    """What a person can do with a file of a type vecflow does not parse: a sentence without its full stop."""
    return _UNSUPPORTED_ADVICE.get(normalize_media_type(media_type), "Convert it to one of those formats")


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
    if _looks_like_mail(text):
        return EML
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
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return TIFF
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"\x1f\x8b"):
        return GZIP
    if head.startswith(b"{\\rtf"):
        return RTF
    return None


@dataclass(frozen=True)
class _Member:
    """A ZIP member's local file header, as found in the head."""

    name: str
    method: int  # 0 stored, 8 deflated
    data_at: int  # offset of its data in the head
    compressed: int  # compressed size (0 when the header defers it to a data descriptor)


def _zip_members(head: bytes) -> list[_Member]:
    """Local file headers within `head` (the central directory is at the end, out of reach)."""
    members: list[_Member] = []
    pos = 0
    while len(members) < 200:
        pos = head.find(_ZIP_LOCAL, pos)
        if pos < 0 or pos + 30 > len(head):
            break
        method, compressed = struct.unpack_from("<H", head, pos + 8)[0], struct.unpack_from("<I", head, pos + 18)[0]
        name_len, extra_len = struct.unpack_from("<HH", head, pos + 26)
        name = head[pos + 30 : pos + 30 + name_len].decode("utf-8", errors="replace")
        members.append(_Member(name, method, pos + 30 + name_len + extra_len, compressed))
        pos += 30 + name_len + extra_len
    return members


def _member_head(head: bytes, member: _Member, size: int = 16 * 1024) -> bytes:
    """Up to `size` leading bytes of a member whose data lies (at least partly) within `head`."""
    end = member.data_at + member.compressed if member.compressed else len(head)
    data = head[member.data_at : min(end, len(head))]
    if member.method == 0:
        return data[:size]
    if member.method == 8:
        try:
            return zlib.decompressobj(-15).decompress(data, size)
        except zlib.error:
            return b""
    return b""


# The main part's content type in [Content_Types].xml names the OOXML kind (macro-enabled ones included).
_OOXML_MAIN = (
    (b"wordprocessingml.document.main", DOCX),
    (b"ms-word.document.macroenabled.main", DOCX),
    (b"presentationml.presentation.main", PPTX),
    (b"presentationml.slideshow.main", PPTX),
    (b"ms-powerpoint.presentation.macroenabled.main", PPTX),
    (b"spreadsheetml.sheet.main", XLSX),
    (b"ms-excel.sheet.macroenabled.main", XLSX),
)
_OOXML_FOLDERS = (("word/", DOCX), ("ppt/", PPTX), ("xl/", XLSX))
_ZIP_HINTS = frozenset({DOCX, PPTX, XLSX, EPUB, ODT})


def _zip_type(head: bytes, hint: str) -> str:
    """DOCX, PPTX, XLSX (by their parts' folders or [Content_Types].xml), EPUB and OpenDocument (by the
    ``mimetype`` member they store first), else a plain ZIP."""
    members = _zip_members(head)
    by_name = {m.name: m for m in members}
    if "mimetype" in by_name:
        declared = _member_head(head, by_name["mimetype"], 200).decode("ascii", errors="replace").strip().lower()
        if declared == EPUB or declared.startswith("application/vnd.oasis.opendocument."):
            return declared
    for folder, media_type in _OOXML_FOLDERS:
        if any(name.startswith(folder) for name in by_name):
            return media_type
    if "[Content_Types].xml" in by_name:
        content_types = _member_head(head, by_name["[Content_Types].xml"]).lower()
        for needle, media_type in _OOXML_MAIN:
            if needle in content_types:
                return media_type
    if "META-INF/container.xml" in by_name and any(name.lower().endswith(".opf") for name in by_name):
        return EPUB
    if hint in _ZIP_HINTS:
        package_marks = {"[Content_Types].xml", "_rels/.rels", "mimetype", "META-INF/container.xml", "content.xml"}
        if not any(by_name) or package_marks & set(by_name):
            # A package whose telling parts lie beyond the head, or one truncated before them:
            # let the parser accept it or say exactly what is wrong.
            return hint
    return ZIP


def _ole_type(head: bytes, hint: str) -> str:
    """OLE compound files: encrypted OOXML (Office puts the encrypted package in one) or legacy Office."""
    if "EncryptedPackage".encode("utf-16-le") in head or "EncryptionInfo".encode("utf-16-le") in head:
        return hint if hint in (DOCX, PPTX, XLSX) else DOCX
    for stream, media_type in (
        ("WordDocument", MSWORD),
        ("PowerPoint Document", MSPOWERPOINT),
        ("Workbook", MSEXCEL),
        ("__substg1.0_", OUTLOOK_MSG),
    ):
        if stream.encode("utf-16-le") in head:
            return media_type
    # The directory naming the streams may lie beyond the head in a large file: then the name decides.
    return hint if hint in (DOCX, PPTX, XLSX, MSWORD, MSEXCEL, MSPOWERPOINT, OUTLOOK_MSG) else OLE


# Mail headers: an RFC 5322 message opens with a block of them, ended by a blank line.
_HEADER_LINE = re.compile(r"^[!-9;-~]+:")
_MAIL_HEADERS = frozenset(
    {"from", "to", "cc", "subject", "date", "message-id", "mime-version", "received", "return-path", "reply-to"}
)


def _looks_like_mail(text: str) -> bool:
    """Whether `text` opens with a mail header block naming a sender (From or Received) and two more headers."""
    names: set[str] = set()
    for number, line in enumerate(text.splitlines()):
        if not line.strip():
            break
        if line[0] in " \t" and number > 0:
            continue  # a folded header's continuation
        if not _HEADER_LINE.match(line):
            return False
        names.add(line.split(":", 1)[0].lower())
    known = names & _MAIL_HEADERS
    return bool(known & {"from", "received"}) and len(known) >= 3


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
