"""EML (RFC 5322 e-mail): headers, the body, a list of attachments, and the attached documents' text.

Read by the standard library's `email` package (``policy.default``). The text opens with the From, To, Cc,
Date and Subject headers, then the plain-text body (or the HTML body, as text, when there is no plain one),
then an ``Attachments:`` list (name, type, size, and why one was not read). Attached documents of a type
vecflow parses follow, each after an ``Attachment: name`` line, with their pages, tables and headings;
attached messages are read the same way, down to `MAX_DEPTH` levels. Metadata: the subject is the title,
the sender the author, the Date header the creation time.
"""

from __future__ import annotations

import dataclasses
import email
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path

from vecflow.pipeline.detect import EML, SUPPORTED, detect_type
from vecflow.pipeline.parse.model import (
    CORRUPT_FILE,
    ENCRYPTED_DOCUMENT,
    PYTHON,
    DocumentMetadata,
    Heading,
    PageSpan,
    ParsedDocument,
    ParseError,
    ParseLimits,
    Table,
    too_large,
)
from vecflow.pipeline.parse.text import clean, shorten

AttachmentParser = Callable[[Path, str, ParseLimits], ParsedDocument]
"""Parses an attached document (path, media type, limits): `vecflow.pipeline.parse.parse_document`."""
MAX_DEPTH = 3  # attached messages inside attached messages: how deep attachments are still read
MAX_PARSED_ATTACHMENTS = 20  # attachments read per message file, all levels together
_HEADERS = ("From", "To", "Cc", "Date", "Subject")


@dataclass
class _Out:
    """The document being built: text parts and what points into them."""

    limits: ParseLimits
    scratch: Path
    parse_attachment: AttachmentParser
    parts: list[str] = field(default_factory=list)
    length: int = 0
    pages: list[PageSpan] = field(default_factory=list)
    headings: list[Heading] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    attachments_read: int = 0

    def add(self, text: str) -> int:
        """Append a block of text; returns where it starts."""
        start = self.length + (2 if self.parts else 0)
        self.parts.append(text)
        self.length = start + len(text)
        if self.length > self.limits.max_characters:
            raise too_large("text", self.limits.max_characters, "characters", "VECFLOW_PARSE_MAX_CHARACTERS")
        return start


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError, AttributeError):  # a header the policy cannot parse: as written
        value = next((raw for key, raw in message.raw_items() if key.lower() == name.lower()), "")
    return " ".join(str(value or "").split())


def _decoded(part: Message) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _part_text(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, KeyError, UnicodeError):  # an unknown charset, a damaged encoding
        content = _decoded(part).decode("utf-8", errors="replace")
    return content if isinstance(content, str) else ""


def _html_text(html: str, out: _Out) -> str:
    from vecflow.pipeline.parse.web import parse_html

    path = out.scratch / "body.html"
    path.write_text(html, encoding="utf-8")
    try:
        return parse_html(path, "utf-8", out.limits).text
    except ParseError:
        return ""


def _body(message: EmailMessage, out: _Out) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    text = _part_text(body)  # type: ignore[arg-type]
    if body.get_content_type() == "text/html":
        text = _html_text(text, out)
    return clean(text)


def _encrypted(message: Message) -> bool:
    kind = message.get_content_type()
    return kind == "multipart/encrypted" or (
        kind in ("application/pkcs7-mime", "application/x-pkcs7-mime")
        and message.get_param("smime-type", "enveloped-data") == "enveloped-data"
    )


def _size(part: Message) -> int:
    inner = _attached_message(part)
    return len(inner.as_bytes()) if inner is not None else len(_decoded(part))


def _attached_message(part: Message) -> EmailMessage | None:
    if part.get_content_type() == "message/rfc822":
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        return inner if isinstance(inner, EmailMessage) else None
    return None


def _unnamed(part: Message) -> str:
    """A name for an attachment without a file name: an attached message's subject, else its type."""
    inner = _attached_message(part)
    subject = _header(inner, "Subject") if inner is not None else ""
    return shorten(f"{subject}.eml", 100) if subject else f"(unnamed {part.get_content_type()})"


def _read_attachment(
    part: EmailMessage, name: str, depth: int, out: _Out
) -> tuple[ParsedDocument | EmailMessage | None, str]:
    """The attachment parsed (a document, or a message to read in place), else None and why not."""
    inner = _attached_message(part)
    data = b"" if inner is not None else _decoded(part)
    if inner is None:
        media_type = detect_type(data[: 64 * 1024], name, part.get_content_type())
        if media_type == EML:
            inner = email.message_from_bytes(data, policy=policy.default)
    if inner is not None:
        if depth + 1 > MAX_DEPTH:
            return None, f"attached messages nested more than {MAX_DEPTH} deep are not read"
        return inner, ""
    if media_type not in SUPPORTED:
        return None, "not a type vecflow parses"
    if out.attachments_read >= MAX_PARSED_ATTACHMENTS:
        return None, f"only the first {MAX_PARSED_ATTACHMENTS} attachments are read"
    out.attachments_read += 1
    path = out.scratch / f"attachment-{out.attachments_read}"
    path.write_bytes(data)
    left = out.limits.max_characters - out.length
    try:
        if left <= 0:
            raise too_large("text", out.limits.max_characters, "characters", "VECFLOW_PARSE_MAX_CHARACTERS")
        limits = dataclasses.replace(out.limits, max_characters=left)  # every other limit as the operator set it
        return out.parse_attachment(path, media_type, limits), ""
    except ParseError as err:
        return None, f"{err.code}: {err.message}"
    finally:
        path.unlink(missing_ok=True)


def _message(message: EmailMessage, depth: int, out: _Out) -> None:
    """Append a message (its headers, body, attachment list, then the attachments read) to `out`."""
    lines = [f"{name}: {value}" for name in _HEADERS if (value := _header(message, name))]
    subject = _header(message, "Subject")
    start = out.add("\n".join(lines))
    first_page = len(out.pages)
    out.headings.append(Heading(1 + 2 * depth, shorten(subject) if subject else "(no subject)", start))
    body = _body(message, out)
    if body:
        out.add(body)
    listed: list[str] = []
    read: list[tuple[str, ParsedDocument | EmailMessage]] = []
    for part in message.iter_attachments():
        name = " ".join((part.get_filename() or "").split()) or _unnamed(part)
        got, why = _read_attachment(part, name, depth, out)
        entry = f"- {name} ({part.get_content_type()}, {_size(part):,} bytes)"
        listed.append(entry + (f": not read ({why})" if why else ""))
        if got is not None:
            read.append((name, got))
    if listed:
        out.add("Attachments:\n" + "\n".join(listed))
    out.pages.insert(first_page, PageSpan(0, start, out.length))  # renumbered at the end
    for name, got in read:
        at = out.add(f"Attachment: {name}")
        out.headings.append(Heading(2 + 2 * depth, shorten(f"Attachment: {name}"), at))
        if isinstance(got, EmailMessage):
            _message(got, depth + 1, out)
            continue
        offset = out.add(got.text)
        out.pages.extend(PageSpan(0, offset + p.char_start, offset + p.char_end, p.ocr_confidence) for p in got.pages)
        out.headings.extend(Heading(h.level + 2 + 2 * depth, h.title, offset + h.char_start) for h in got.headings)
        out.tables.extend(Table(t.header, t.rows, f"attachment {name}: {t.source}") for t in got.tables)


def _metadata(message: EmailMessage) -> DocumentMetadata:
    meta = DocumentMetadata(title=shorten(_header(message, "Subject")) or None)
    senders = getaddresses([_header(message, "From")])
    meta.authors = [name or address for name, address in senders if name or address]
    try:
        meta.created = parsedate_to_datetime(_header(message, "Date")).isoformat()
    except (TypeError, ValueError, IndexError):
        meta.created = None
    return meta


def parse_eml(
    path: Path, charset: str | None, limits: ParseLimits, *, parse_attachment: AttachmentParser
) -> ParsedDocument:
    """The message at `path`; attached documents of supported types go through `parse_attachment`."""
    with path.open("rb") as fp:
        message = email.message_from_binary_file(fp, policy=policy.default)
    assert isinstance(message, EmailMessage)
    if not message.keys():
        raise ParseError(
            CORRUPT_FILE,
            "The file is not an e-mail message: it has no headers (From, To, Subject, …). Export the message "
            "from your mail program again as .eml, or upload it as plain text.",
        )
    if _encrypted(message):
        raise ParseError(
            ENCRYPTED_DOCUMENT,
            "The e-mail message is encrypted (S/MIME or OpenPGP). Decrypt it in your mail program, save it "
            "as .eml again, and upload that copy.",
        )
    with tempfile.TemporaryDirectory(prefix="vecflow-eml-") as scratch:
        out = _Out(limits, Path(scratch), parse_attachment)
        _message(message, 0, out)
    pages = [PageSpan(number, p.char_start, p.char_end, p.ocr_confidence) for number, p in enumerate(out.pages, 1)]
    return ParsedDocument(
        text="\n\n".join(out.parts),
        content_type=EML,
        parser=f"email ({PYTHON})",
        pages=pages,
        metadata=_metadata(message),
        tables=out.tables,
        headings=sorted(out.headings, key=lambda h: h.char_start),
    )
