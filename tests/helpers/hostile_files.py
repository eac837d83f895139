"""Hostile documents, generated: zip bombs, lying zip members, huge text, deep nesting, long PDFs.

Shared by tests/test_hostile_files.py (small sizes, lowered limits) and bench/hostile.py (the sizes of the
issue, default limits). Only the standard library and python-docx, so both can build them anywhere.
"""

from __future__ import annotations

import io
import struct
import zipfile

_PARAGRAPH = b"<w:p><w:r><w:t>All work and no play makes a dull document.</w:t></w:r></w:p>"


def _docx_parts() -> dict[str, bytes]:
    import docx

    document = docx.Document()
    document.add_paragraph("A real document, before the bomb.")
    buffer = io.BytesIO()
    document.save(buffer)
    with zipfile.ZipFile(buffer) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def docx_with_body_bytes(body_bytes: int) -> bytes:
    """A valid DOCX whose word/document.xml is about `body_bytes` of real paragraphs (it compresses ~300:1).
    Written a megabyte at a time, so that a gigabyte body costs its compressed size in memory, not more."""
    parts = _docx_parts()
    head, sep, tail = parts.pop("word/document.xml").partition(b"<w:body>")
    block = _PARAGRAPH * (1024 * 1024 // len(_PARAGRAPH))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
        with archive.open("word/document.xml", "w", force_zip64=body_bytes > 2**31) as member:
            member.write(head + sep)
            left = max(len(_PARAGRAPH), body_bytes)
            while left > 0:
                piece = block if left >= len(block) else _PARAGRAPH * max(1, left // len(_PARAGRAPH))
                member.write(piece)
                left -= len(piece)
            member.write(tail)
    return out.getvalue()


def docx_lying_member(real_bytes: int, claimed_bytes: int = 4096) -> bytes:
    """A DOCX whose word/document.xml unpacks to `real_bytes` but whose zip headers claim `claimed_bytes`."""
    data = bytearray(docx_with_body_bytes(real_bytes))
    name = b"word/document.xml"
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo(name.decode())
    local = info.header_offset  # local file header: uncompressed size at +22
    assert data[local : local + 4] == b"PK\x03\x04"
    struct.pack_into("<I", data, local + 22, claimed_bytes)
    central = data.rfind(b"PK\x01\x02", 0, len(data))
    while central != -1:  # the central directory entry of that member: uncompressed size at +24
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        if bytes(data[central + 46 : central + 46 + name_length]) == name:
            struct.pack_into("<I", data, central + 24, claimed_bytes)
            break
        central = data.rfind(b"PK\x01\x02", 0, central)
    return bytes(data)


def pdf_pages(pages: int, *, contents: bytes = b"3 0 R") -> bytes:
    """A valid PDF of `pages` pages, each with one line of text (one content stream shared by all)."""
    line = b"BT /F1 12 Tf 72 720 Td (The quick brown fox jumps over the lazy dog on this page.) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Count %d /Kids [%s] >>" % (pages, b" ".join(b"%d 0 R" % (5 + i) for i in range(pages))),
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(line), line),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %s "
        b"/Resources << /Font << /F1 4 0 R >> >> >>" % contents
    )
    objects += [page] * pages
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def nested_dict(levels: int) -> bytes:
    return b"<< /A " * levels + b"1" + b" >>" * levels


def pdf_deep_contents(levels: int = 100_000) -> bytes:
    """A one-page PDF whose page /Contents is a dictionary nested `levels` deep instead of a stream."""
    return pdf_pages(1, contents=nested_dict(levels))


def pdf_deep_font(levels: int = 100_000) -> bytes:
    """A one-page PDF with text whose font dictionary carries a value nested `levels` deep."""
    return pdf_pages(1).replace(
        b"/BaseFont /Helvetica >>", b"/BaseFont /Helvetica /Deep " + nested_dict(levels) + b" >>"
    )


def one_line_text(characters: int) -> bytes:
    """Plain text with no line break and no space: one `characters`-long word."""
    return b"x" * characters
