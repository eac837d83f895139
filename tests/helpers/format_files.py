"""Documents of the formats issue 16 adds, generated with the libraries that write them: PPTX (python-pptx),
XLSX (XlsxWriter, which stores formulas' cached values; openpyxl's write-only mode for big sheets), EPUB
(ebooklib), ODT (odfdo), EML (the standard library's email), RTF (written out: there is no writer library).

Shared by tests/test_formats.py and bench/parse.py. Every builder returns the file's bytes.
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def pptx_deck(slides: int = 3) -> bytes:
    """A deck: slide 1 a title slide; slide 2 text boxes added bottom first, a table and speaker notes;
    then `slides` - 2 bullet slides."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    deck.core_properties.title = "Quarterly review"
    deck.core_properties.author = "Ada Lovelace"
    first = deck.slides.add_slide(deck.slide_layouts[0])
    first.shapes.title.text = "Quarterly review"
    first.placeholders[1].text = "Engines and numbers"
    second = deck.slides.add_slide(deck.slide_layouts[5])  # title only
    second.shapes.title.text = "Results by region"
    low = second.shapes.add_textbox(Inches(1), Inches(6), Inches(6), Inches(1))
    low.text_frame.text = "Read me last: the footer box"
    high = second.shapes.add_textbox(Inches(1), Inches(1.5), Inches(6), Inches(1))
    high.text_frame.text = "Read me first: the box under the title"
    table = second.shapes.add_table(3, 2, Inches(1), Inches(3), Inches(6), Inches(2)).table
    for r, row in enumerate([("Region", "Revenue"), ("North", "120"), ("South", "95")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    second.notes_slide.notes_text_frame.text = "Mention the southern drought."
    for number in range(3, slides + 1):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = f"Topic {number}"
        body = slide.placeholders[1].text_frame
        body.text = f"Point one of topic {number}: the analytical engine weaves algebraic patterns."
        body.add_paragraph().text = f"Point two of topic {number}: as the Jacquard loom weaves flowers."
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def xlsx_workbook(rows: int = 3) -> bytes:
    """Two sheets: "Sales" (header, `rows` rows, a formula column with cached values, a date) and "Notes"."""
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    book.set_properties({"title": "Sales 2025", "author": "Grace Hopper"})
    dates = book.add_format({"num_format": "yyyy-mm-dd"})
    sales = book.add_worksheet("Sales")
    sales.write_row(0, 0, ["Product", "Units", "Price", "Total", "Shipped"])
    for i in range(rows):
        units, price = 2 + i, 1.5 + i
        sales.write_row(i + 1, 0, [f"Widget {i + 1}", units, price])
        sales.write_formula(i + 1, 3, f"=B{i + 2}*C{i + 2}", None, units * price)
        sales.write_datetime(i + 1, 4, datetime(2025, 3, 1 + i % 28), dates)
    notes = book.add_worksheet("Notes")
    notes.write(0, 0, "Remark")
    notes.write(1, 0, "Prices exclude VAT.")
    book.add_worksheet("Empty")
    book.close()
    return out.getvalue()


def xlsx_cells(rows: int, columns: int = 10) -> bytes:
    """One sheet of `rows` x `columns` numbers, streamed by openpyxl's write-only mode."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Data")
    sheet.append([f"c{j}" for j in range(columns)])
    for i in range(rows):
        sheet.append([i * columns + j for j in range(columns)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def epub_book(chapters: int = 3) -> bytes:
    """An EPUB 3 book (with an EPUB 2 NCX too) whose spine order differs from its manifest order."""
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("vecflow-test-book")
    book.set_title("The Engine Book")
    book.set_language("en")
    book.add_author("Charles Babbage")
    items = []
    for number in range(1, chapters + 1):
        item = epub.EpubHtml(title=f"Chapter {number}: Part {number}", file_name=f"chap_{number}.xhtml", lang="en")
        item.content = (
            f"<html><body><h1>Heading {number}</h1><p>Chapter {number} text: the difference engine "
            f"tabulates polynomials, page {number}.</p><h2>Section {number}.1</h2><p>More of chapter {number}.</p>"
            "</body></html>"
        )
        items.append(item)
    for item in reversed(items):  # manifest order is not reading order
        book.add_item(item)
    book.toc = tuple(items)
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *items]
    out = io.BytesIO()
    epub.write_epub(out, book)
    return out.getvalue()


def epub_with_drm(data: bytes) -> bytes:
    """The book with a META-INF/encryption.xml that encrypts a chapter (as DRM schemes do)."""
    encryption = (
        b'<?xml version="1.0"?><encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
        b'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>'
        b'<enc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>'
        b'<enc:CipherData><enc:CipherReference URI="EPUB/chap_1.xhtml"/></enc:CipherData>'
        b"</enc:EncryptedData></encryption>"
    )
    return with_member(data, "META-INF/encryption.xml", encryption)


def with_member(data: bytes, name: str, content: bytes) -> bytes:
    """A copy of the ZIP package with one member added or replaced."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename != name:
                target.writestr(info, source.read(info))
        target.writestr(name, content)
    return out.getvalue()


def without_member(data: bytes, name: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename != name:
                target.writestr(info, source.read(info))
    return out.getvalue()


def bomb_member(data: bytes, name: str, size: int) -> bytes:
    """The package with a member `name` of `size` zero bytes (compressed about 1000:1), written a megabyte at
    a time."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target,
    ):
        for info in source.infolist():
            target.writestr(info, source.read(info))
        block = b"\x00" * (1 << 20)
        with target.open(name, "w", force_zip64=size > 2**31) as member:
            left = size
            while left > 0:
                member.write(block[: min(left, len(block))])
                left -= len(block)
    return out.getvalue()


def damaged_member(data: bytes, name: str) -> bytes:
    """The package with the compressed bytes of member `name` overwritten in the middle (its CRC fails)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(name)
    raw = bytearray(data)
    name_length, extra_length = (
        int.from_bytes(raw[info.header_offset + 26 : info.header_offset + 28], "little"),
        int.from_bytes(raw[info.header_offset + 28 : info.header_offset + 30], "little"),
    )
    start = info.header_offset + 30 + name_length + extra_length
    middle = start + info.compress_size // 2
    raw[middle : middle + 16] = b"\xff" * 16
    return bytes(raw)


def ole_encrypted() -> bytes:
    """The head of an OLE compound file naming the EncryptedPackage stream: how Office stores a
    password-protected DOCX, PPTX or XLSX."""
    return OLE_MAGIC + b"\x00" * 504 + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 1024


def odt_document() -> bytes:
    """An ODT: two headings, paragraphs, a list, a table and a footnote."""
    from odfdo import Document, Header, List, Note, Paragraph, Table

    document = Document("text")
    document.meta.set_title("Engine notes")
    body = document.body
    body.append(Header(1, "Introduction"))
    paragraph = Paragraph("The analytical engine has a store and a mill.")
    paragraph.append(Note(note_class="footnote", note_id="n1", citation="1", body="Babbage, 1837."))
    body.append(paragraph)
    body.append(Header(2, "Parts"))
    body.append(List(["The store holds numbers.", "The mill computes."]))
    table = Table("Parts", width=2, height=3)
    table.set_values([["Part", "Role"], ["Store", "memory"], ["Mill", "arithmetic"]])
    body.append(table)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def rtf_document() -> bytes:
    """An RTF file in code page 1252 with an accented word, a Unicode escape, a font table and a picture."""
    return (
        b"{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0 Times New Roman;}}"
        b"{\\info{\\title Engine memo}}"
        b"\\f0\\fs24 Memo about the caf\\'e9 meeting.\\par "
        b"The engine\\u8217?s mill computes.\\par "
        b"{\\pict\\pngblip 89504e470d0a1a0a0000}"
        b"Second paragraph.\\par }"
    )


def eml_message(*, attachments: bool = True, html_only: bool = False) -> bytes:
    """A mail: headers, a plain and an HTML body (or only HTML), and attachments: a DOCX, a text file, a PNG
    and an attached message."""
    import docx

    message = EmailMessage()
    message["From"] = "Ada Lovelace <ada@example.com>"
    message["To"] = "Charles Babbage <charles@example.com>, Mary Somerville <mary@example.com>"
    message["Cc"] = "Office <office@example.com>"
    message["Date"] = format_datetime(datetime(2025, 6, 2, 9, 30, tzinfo=UTC))
    message["Subject"] = "Notes on the analytical engine"
    message["Message-ID"] = "<notes-1@example.com>"
    html = "<html><body><p>Dear Charles,</p><p>the <b>engine</b> weaves algebraic patterns.</p></body></html>"
    if html_only:
        message.set_content(html, subtype="html")
    else:
        message.set_content("Dear Charles,\n\nthe engine weaves algebraic patterns.\n\nAda\n")
        message.add_alternative(html, subtype="html")
    if attachments:
        document = docx.Document()
        document.add_heading("Sketch of the engine", level=1)
        document.add_paragraph("The attached document explains Bernoulli numbers.")
        buffer = io.BytesIO()
        document.save(buffer)
        message.add_attachment(
            buffer.getvalue(),
            maintype="application",
            subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
            filename="sketch.docx",
        )
        message.add_attachment("Plain attached notes about the mill.\n", filename="notes.txt")
        message.add_attachment(
            b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, maintype="image", subtype="png", filename="engine.png"
        )
        inner = EmailMessage()
        inner["From"] = "Charles Babbage <charles@example.com>"
        inner["Subject"] = "Earlier message"
        inner["Date"] = format_datetime(datetime(2025, 6, 1, 8, 0, tzinfo=UTC))
        inner.set_content("The difference engine came first.\n")
        message.add_attachment(inner)
    return message.as_bytes()
