"""Document type detection and parsing (vecflow.pipeline.detect, vecflow.pipeline.parse).

Two groups:

a) documents the tests write themselves into tmp_path, so this always runs;
b) every file of the shared corpus in ../shared/data/docs (skipped when that folder is absent), each of which must end
   in the state its manifest type deserves: parsed with real text, or a ParseError with the right code.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from vecflow.pipeline import parse as parse_module
from vecflow.pipeline.detect import (
    CSV,
    DOCX,
    GIF,
    GZIP,
    HTML,
    JPEG,
    JSON,
    MARKDOWN,
    OCTET_STREAM,
    PDF,
    PLAIN,
    PNG,
    SUPPORTED,
    ZIP,
    detect_type,
    is_supported,
)
from vecflow.pipeline.parse import (
    CORRUPT_FILE,
    EMPTY_FILE,
    ENCRYPTED_DOCUMENT,
    NO_TEXT_LAYER,
    UNDECODABLE_TEXT,
    UNSUPPORTED_TYPE,
    ParsedDocument,
    ParseError,
    parse_document,
)

# --------------------------------------------------------------------------- helpers


def _parse_error(path: Path, content_type: str) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse_document(path, content_type)
    error = info.value
    # Messages are for people: whole sentences, with something to do about it.
    assert error.message[:1].isupper() and error.message.endswith("."), error.message
    assert str(error) == error.message
    return error


def _check_spans(doc: ParsedDocument) -> None:
    assert doc.pages, "every document has at least one page span"
    assert doc.metadata.page_count == len(doc.pages)
    previous_end = 0
    for number, span in enumerate(doc.pages, start=1):
        assert span.number == number
        assert previous_end <= span.char_start <= span.char_end <= len(doc.text)
        previous_end = span.char_end
    assert doc.pages[0].char_start == 0
    assert doc.pages[-1].char_end == len(doc.text)


def _pdf_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[str], info: dict[str, str] | None = None) -> bytes:
    """A minimal valid PDF, one Helvetica text line a page, with a correct xref table."""
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    kids = []
    for index, text in enumerate(pages):
        page_id, content_id = 4 + 2 * index, 5 + 2 * index
        kids.append(f"{page_id} 0 R")
        stream = f"BT /F1 12 Tf 72 720 Td ({_pdf_string(text)}) Tj ET".encode("latin-1")
        objects[page_id] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {content_id} 0 R >>"
        ).encode()
        objects[content_id] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
    objects[2] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(pages)} >>".encode()
    info_id = 4 + 2 * len(pages)
    if info:
        entries = " ".join(f"/{key} ({_pdf_string(value)})" for key, value in info.items())
        objects[info_id] = f"<< {entries} >>".encode("latin-1")

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for object_id in sorted(objects):
        offsets[object_id] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (object_id, objects[object_id])
    size = max(objects) + 1
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for object_id in range(1, size):
        if object_id in offsets:
            out += b"%010d 00000 n \n" % offsets[object_id]
        else:
            out += b"0000000000 65535 f \n"
    trailer = f"<< /Size {size} /Root 1 0 R" + (f" /Info {info_id} 0 R" if info else "") + " >>"
    out += f"trailer\n{trailer}\nstartxref\n{xref_at}\n%%EOF\n".encode()
    return bytes(out)


PAGE_ONE = "Hello vecflow"
PAGE_TWO = "The second page explains how vectors make every document easy to find again."
PDF_INFO = {"Title": "Vecflow sample", "Author": "Ada Lovelace; Alan Turing", "CreationDate": "D:20240102030405Z"}


@pytest.fixture
def text_pdf(tmp_path: Path) -> Path:
    path = tmp_path / "sample.pdf"
    path.write_bytes(make_pdf([PAGE_ONE, PAGE_TWO], PDF_INFO))
    return path


def _write(tmp_path: Path, name: str, data: bytes | str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode(encoding) if isinstance(data, str) else data)
    return path


# --------------------------------------------------------------------------- a) detection

ZIP_PLAIN = b"PK\x03\x04" + b"\x14\x00" + b"\x00" * 20 + b"\x09\x00\x00\x00" + b"notes.txt" + b"hello"
ZIP_DOCX = b"PK\x03\x04" + b"\x14\x00" + b"\x00" * 20 + b"\x11\x00\x00\x00" + b"word/document.xml" + b"<w:document/>"
ZIP_OOXML = b"PK\x03\x04" + b"\x14\x00" + b"\x00" * 20 + b"\x13\x00\x00\x00" + b"[Content_Types].xml" + b"<Types/>"
OLE_ENCRYPTED = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 200 + "EncryptedPackage".encode("utf-16-le")


@pytest.mark.parametrize(
    ("head", "filename", "declared", "expected"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "", "", PDF),
        (b"%PDF-1.4\n", "report.txt", "text/plain", PDF),  # content beats the name and the declaration
        (b"\x00\x05junk\x00%PDF-1.4\n", "", "", PDF),  # binary junk before the header is tolerated
        (b"Files start with %PDF-1.7, then objects.\n", "", "", PLAIN),  # a mention in text is not a header
        (ZIP_DOCX, "", "", DOCX),
        (ZIP_PLAIN, "archive.zip", "", ZIP),
        (ZIP_PLAIN, "", "", ZIP),
        (ZIP_OOXML, "letter.docx", "", DOCX),  # OOXML package whose word/ parts are out of reach: the name decides
        (ZIP_OOXML, "", "", ZIP),
        (OLE_ENCRYPTED, "secret.docx", "", DOCX),  # password-protected DOCX: an OLE container, not a zip
        (OLE_ENCRYPTED, "", "", DOCX),
        (OLE_ENCRYPTED[:100], "big.docx", "", DOCX),  # stream names out of reach: the name decides
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "WordDocument".encode("utf-16-le"), "old.doc", "", "application/msword"),
        (b"<!DOCTYPE html><html><body>x</body></html>", "", "", HTML),
        (b"\n  <html lang='en'><p>hi</p></html>", "page.txt", "", HTML),
        (b'<?xml version="1.0"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN" "x"><html/>', "", "", HTML),
        (b"<p>fragment</p>", "fragment.htm", "", HTML),
        (b"# Title\n\nSome *markdown*.", "README.md", "", MARKDOWN),
        (b"# Title\n\nSome *markdown*.", "notes.markdown", "", MARKDOWN),
        (b"# Title\n\nSome text.", "", "text/markdown; charset=utf-8", MARKDOWN),
        (b"# Title\n\nSome text.", "", "", PLAIN),
        (b"a,b\n1,2\n", "data.csv", "", CSV),
        (b"a,b\n1,2\n", "upload.bin", "text/csv", CSV),
        (b'{"a": {"b": 1}}', "", "", JSON),
        (b"[1, 2, 3]\n", "numbers", "", JSON),
        (b'{"a": ', "data.json", "", JSON),  # broken JSON keeps its type; the parser reports CORRUPT_FILE
        (b"{not json at all}", "", "", PLAIN),
        (b"Just some words.\n", "", "", PLAIN),
        ("Hello UTF-16".encode("utf-16"), "", "", PLAIN),
        ("Grüße aus Köln".encode("latin-1"), "", "", PLAIN),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "", "", PNG),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "photo.pdf", "", JPEG),
        (b"GIF89a\x01\x00\x01\x00", "", "", GIF),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "", "", GZIP),
        (bytes(range(256)) * 4, "", "", OCTET_STREAM),
        (bytes(range(256)) * 4, "", "video/mp4", "video/mp4"),
        (b"", "empty.pdf", "", PDF),  # no content to look at: the hints decide
        (b"", "", "", PLAIN),
    ],
)
def test_detect_type(head: bytes, filename: str, declared: str, expected: str) -> None:
    assert detect_type(head, filename, declared) == expected


def test_detect_type_json_cut_at_head_size() -> None:
    head = (b'{"items": [' + b'{"name": "x", "value": 12345},' * 5000)[: 64 * 1024]
    assert detect_type(head) == JSON


def test_is_supported() -> None:
    assert SUPPORTED >= {PDF, DOCX, HTML, MARKDOWN, CSV, JSON, PLAIN}
    assert is_supported("application/pdf")
    assert is_supported("TEXT/HTML; charset=utf-8")
    assert is_supported("text/x-markdown")
    assert is_supported("image/png")  # read by OCR (tests/test_ocr.py)
    assert not is_supported("audio/mpeg")
    assert not is_supported(OCTET_STREAM)
    assert not is_supported("")


# --------------------------------------------------------------------------- a) PDF


def test_pdf_text_pages_and_metadata(text_pdf: Path) -> None:
    doc = parse_document(text_pdf, "application/pdf")
    assert doc.text == f"{PAGE_ONE}\n\n{PAGE_TWO}"
    assert doc.content_type == PDF
    assert doc.parser.startswith("pypdf ")
    _check_spans(doc)
    assert [doc.text[s.char_start : s.char_end] for s in doc.pages] == [PAGE_ONE, PAGE_TWO]
    meta = doc.metadata
    assert meta.title == "Vecflow sample"
    assert meta.authors == ["Ada Lovelace", "Alan Turing"]
    assert meta.created == "2024-01-02T03:04:05+00:00"
    assert meta.modified is None
    assert meta.page_count == 2
    assert meta.language == "en"
    assert doc.tables == []


def test_pdf_encrypted(text_pdf: Path, tmp_path: Path) -> None:
    import pypdf

    writer = pypdf.PdfWriter()
    writer.add_page(pypdf.PdfReader(text_pdf).pages[0])
    writer.encrypt(user_password="s3cret", algorithm="RC4-128")
    path = tmp_path / "locked.pdf"
    with path.open("wb") as fp:
        writer.write(fp)
    error = _parse_error(path, "application/pdf")
    assert error.code == ENCRYPTED_DOCUMENT
    assert "password" in error.message


def test_pdf_with_only_an_owner_password_opens(text_pdf: Path, tmp_path: Path) -> None:
    import pypdf

    writer = pypdf.PdfWriter()
    writer.add_page(pypdf.PdfReader(text_pdf).pages[0])
    writer.encrypt(user_password="", owner_password="owner-only", algorithm="AES-128")
    path = tmp_path / "restricted.pdf"
    with path.open("wb") as fp:
        writer.write(fp)
    assert parse_document(path, "application/pdf").text == PAGE_ONE


def test_pdf_without_text_layer(tmp_path: Path) -> None:
    import pypdf

    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=612, height=792)
    writer.add_blank_page(width=612, height=792)
    path = tmp_path / "blank.pdf"
    with path.open("wb") as fp:
        writer.write(fp)
    error = _parse_error(path, "application/pdf")  # OCR (auto) reads the blank pages and finds nothing
    assert error.code == NO_TEXT_LAYER
    assert "OCR found no legible text" in error.message
    assert "2 pages" in error.message
    with pytest.raises(ParseError) as off:
        parse_document(path, "application/pdf", ocr="off")
    assert off.value.code == NO_TEXT_LAYER and "OCR is off" in off.value.message


def test_pdf_truncated(text_pdf: Path, tmp_path: Path) -> None:
    data = text_pdf.read_bytes()
    path = _write(tmp_path, "truncated.pdf", data[: len(data) // 2])
    error = _parse_error(path, "application/pdf")
    assert error.code == CORRUPT_FILE


def test_pdf_header_without_body(tmp_path: Path) -> None:
    path = _write(tmp_path, "stub.pdf", b"%PDF-1.4\n%%EOF\n")
    assert _parse_error(path, "application/pdf").code == CORRUPT_FILE


def test_not_a_pdf(tmp_path: Path) -> None:
    path = _write(tmp_path, "fake.pdf", "<html><body>This is a web page.</body></html>")
    assert _parse_error(path, "application/pdf").code == CORRUPT_FILE


def test_pdf_falls_back_to_pdfminer_when_pypdf_fails(text_pdf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pypdf
    from pypdf.errors import PdfReadError

    def broken_reader(*args: Any, **kwargs: Any) -> Any:
        raise PdfReadError("Invalid object in /Pages")

    monkeypatch.setattr(pypdf, "PdfReader", broken_reader)
    doc = parse_document(text_pdf, "application/pdf")
    assert doc.parser.startswith("pdfminer.six ")
    assert [doc.text[s.char_start : s.char_end] for s in doc.pages] == [PAGE_ONE, PAGE_TWO]
    assert doc.metadata.title == "Vecflow sample"
    assert doc.metadata.authors == ["Ada Lovelace", "Alan Turing"]


# --------------------------------------------------------------------------- a) DOCX


def _footnotes_xml(text: str) -> bytes:
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<w:footnotes xmlns:w="{w}">'
        f'<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
        f'<w:footnote w:id="1"><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:footnote>'
        f"</w:footnotes>"
    ).encode()


def make_docx(path: Path) -> Path:
    import docx
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.opc.packuri import PackURI
    from docx.opc.part import Part
    from docx.oxml import parse_xml

    document = docx.Document()
    props = document.core_properties
    props.title = "Quarterly report"
    props.author = "Grace Hopper"
    document.add_heading("Results for the third quarter", level=1)
    document.add_paragraph("Revenue grew steadily while the costs of running the service stayed flat.")
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate([["Region", "Revenue", "Growth"], ["North", "120", "4%"], ["South", "95", "7%"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("The team expects the next quarter to follow the same trend.")
    # A text box (VML), which python-docx does not expose.
    box = parse_xml(
        '<w:r xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
        'xmlns:v="urn:schemas-microsoft-com:vml"><w:pict><v:shape><v:textbox><w:txbxContent>'
        "<w:p><w:r><w:t>Text inside a box</w:t></w:r></w:p>"
        "</w:txbxContent></v:textbox></v:shape></w:pict></w:r>"
    )
    document.add_paragraph("A paragraph anchoring a box.")._p.append(box)
    document.sections[0].header.paragraphs[0].text = "Confidential header"
    # A real footnotes part, related from the document part (python-docx cannot write one itself).
    footnotes = Part(
        PackURI("/word/footnotes.xml"),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml",
        _footnotes_xml("Figures are unaudited."),
        document.part.package,
    )
    document.part.relate_to(footnotes, RT.FOOTNOTES)
    document.save(str(path))
    return path


def test_docx(tmp_path: Path) -> None:
    doc = parse_document(make_docx(tmp_path / "report.docx"), DOCX)
    assert doc.content_type == DOCX
    assert doc.parser.startswith("python-docx ")
    text = doc.text
    for expected in (
        "Results for the third quarter",
        "Revenue grew steadily",
        "Region | Revenue | Growth\nNorth | 120 | 4%\nSouth | 95 | 7%",
        "The team expects",
        "Text inside a box",
        "Figures are unaudited.",
        "Confidential header",
    ):
        assert expected in text
    assert text.count("Text inside a box") == 1
    # Body first, in document order; then notes; then headers and footers.
    assert text.index("Revenue grew") < text.index("Region |") < text.index("The team expects")
    assert text.index("The team expects") < text.index("Figures are unaudited.") < text.index("Confidential header")
    _check_spans(doc)
    assert len(doc.pages) == 1
    assert len(doc.tables) == 1
    table = doc.tables[0]
    assert table.header == ["Region", "Revenue", "Growth"]
    assert table.rows == [["North", "120", "4%"], ["South", "95", "7%"]]
    assert table.source == "docx table 1"
    meta = doc.metadata
    assert meta.title == "Quarterly report"
    assert meta.authors == ["Grace Hopper"]
    assert meta.created is not None and meta.created[:4].isdigit()
    assert meta.language == "en"


def test_docx_truncated(tmp_path: Path) -> None:
    data = make_docx(tmp_path / "full.docx").read_bytes()
    path = _write(tmp_path, "truncated.docx", data[: len(data) // 2])
    assert detect_type(path.read_bytes(), path.name) == DOCX
    error = _parse_error(path, DOCX)
    assert error.code == CORRUPT_FILE
    assert "damaged or truncated" in error.message


def test_docx_password_protected(tmp_path: Path) -> None:
    path = _write(tmp_path, "locked.docx", OLE_ENCRYPTED + b"\x00" * 512)
    assert detect_type(path.read_bytes(), path.name) == DOCX
    assert _parse_error(path, DOCX).code == ENCRYPTED_DOCUMENT


def test_zip_that_is_not_a_docx(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "archive.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "hello")
    assert detect_type(path.read_bytes(), "archive.zip") == ZIP
    assert _parse_error(path, DOCX).code == CORRUPT_FILE


# --------------------------------------------------------------------------- a) HTML

HTML_1252 = """<!DOCTYPE html>
<html lang="fr-FR">
<head>
  <meta charset="windows-1252">
  <title>Le caf\u00e9 du coin</title>
  <meta name="author" content="Marie Curie">
  <style>body { color: red; }</style>
  <script>var secretTracking = "do not index me";</script>
</head>
<body>
  <nav><a href="/">Accueil</a> <a href="/menu">Navigation menu</a></nav>
  <header><p>Banner text</p></header>
  <main>
    <h1>Le caf\u00e9</h1>
    <p>Un \u201cpetit\u201d caf\u00e9 tr\u00e8s agr\u00e9able, o\u00f9 l'on boit un   cr\u00e8me
       le matin.</p>
    <p>Deuxi\u00e8me paragraphe<br>sur deux lignes.</p>
    <table>
      <tr><th>Boisson</th><th>Prix</th></tr>
      <tr><td>Espresso</td><td>2 \u20ac</td></tr>
      <tr><td>Cr\u00e8me</td><td>3 \u20ac</td></tr>
    </table>
    <script>console.log("inline noise")</script>
    <noscript>Activez JavaScript</noscript>
  </main>
  <aside>Publicit\u00e9</aside>
  <footer>Tous droits r\u00e9serv\u00e9s</footer>
</body>
</html>
"""


def test_html_windows_1252(tmp_path: Path) -> None:
    path = _write(tmp_path, "cafe.html", HTML_1252, "cp1252")
    assert detect_type(path.read_bytes(), path.name) == HTML
    doc = parse_document(path, "text/html")
    assert doc.parser.startswith("beautifulsoup4 ")
    text = doc.text
    assert "Un \u201cpetit\u201d caf\u00e9 tr\u00e8s agr\u00e9able, o\u00f9 l'on boit un cr\u00e8me le matin." in text
    assert "Le caf\u00e9\n\nUn" in text  # paragraph breaks kept
    assert "Deuxi\u00e8me paragraphe\nsur deux lignes." in text
    assert "Boisson | Prix\nEspresso | 2 \u20ac\nCr\u00e8me | 3 \u20ac" in text
    for noise in ("secretTracking", "color: red", "Navigation", "Banner", "inline noise", "JavaScript", "Publicit"):
        assert noise not in text
    assert "droits" not in text
    assert "\ufffd" not in text
    assert doc.tables[0].header == ["Boisson", "Prix"]
    assert doc.tables[0].rows == [["Espresso", "2 \u20ac"], ["Cr\u00e8me", "3 \u20ac"]]
    assert doc.tables[0].source == "html table 1"
    assert doc.metadata.title == "Le caf\u00e9 du coin"
    assert doc.metadata.authors == ["Marie Curie"]
    assert doc.metadata.language == "fr"  # declared by <html lang>
    _check_spans(doc)


def test_html_utf16_with_bom(tmp_path: Path) -> None:
    page = '<html><head><meta charset="utf-16le"><title>UTF-16 page</title></head><body><p>Gr\u00fc\u00dfe \u2603</p></body></html>'
    path = _write(tmp_path, "utf16.html", b"\xff\xfe" + page.encode("utf-16-le"))
    assert detect_type(path.read_bytes(), "") == HTML
    doc = parse_document(path, "text/html")
    assert doc.text == "Gr\u00fc\u00dfe \u2603"
    assert doc.metadata.title == "UTF-16 page"


def test_html_without_visible_text(tmp_path: Path) -> None:
    path = _write(tmp_path, "script.html", "<html><head><script>var a = 1;</script></head><body> </body></html>")
    assert _parse_error(path, "text/html").code == EMPTY_FILE


# --------------------------------------------------------------------------- a) text, Markdown, CSV, JSON

FRENCH = (
    "\u00c7a co\u00fbte cher, gar\u00e7on ! Fran\u00e7ois a pr\u00e9f\u00e9r\u00e9 le caf\u00e9 cr\u00e8me "
    "\u00e0 la cr\u00e8me br\u00fbl\u00e9e.\nIl est all\u00e9 \u00e0 la biblioth\u00e8que o\u00f9 il a "
    "lu des livres fran\u00e7ais pendant toute la journ\u00e9e.\n"
)


def test_text_utf16_with_bom(tmp_path: Path) -> None:
    path = _write(tmp_path, "notes.txt", FRENCH, "utf-16")
    assert detect_type(path.read_bytes(), path.name) == PLAIN
    doc = parse_document(path, "text/plain")
    assert doc.text == FRENCH.strip()
    assert doc.metadata.language == "fr"
    assert doc.metadata.title == FRENCH.splitlines()[0]
    _check_spans(doc)


def test_text_latin1(tmp_path: Path) -> None:
    path = _write(tmp_path, "latin1.txt", FRENCH, "latin-1")
    assert detect_type(path.read_bytes(), path.name) == PLAIN
    doc = parse_document(path, "text/plain")
    assert doc.text == FRENCH.strip()
    assert doc.metadata.language == "fr"


def test_text_declared_charset(tmp_path: Path) -> None:
    path = _write(tmp_path, "cyrillic.txt", "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440", "koi8-r")
    assert (
        parse_document(path, "text/plain; charset=koi8-r").text
        == "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440"
    )


def test_markdown(tmp_path: Path) -> None:
    source = "---\nauthor: Jane Doe\n---\n\n# Getting started\n\nInstall the *package* and run it.\n"
    path = _write(tmp_path, "guide.md", source)
    assert detect_type(path.read_bytes(), path.name) == MARKDOWN
    doc = parse_document(path, "text/markdown")
    assert doc.text == source.strip()
    assert doc.metadata.title == "Getting started"
    assert doc.metadata.authors == ["Jane Doe"]


def test_csv(tmp_path: Path) -> None:
    source = 'name,city,note\nAda,London,"likes, commas"\nAlan,Wilmslow,\n\nGrace,"New York",admiral\n'
    path = _write(tmp_path, "people.csv", source)
    assert detect_type(path.read_bytes(), path.name) == CSV
    doc = parse_document(path, "text/csv")
    assert doc.text.splitlines() == [
        "name, city, note",
        "name: Ada, city: London, note: likes, commas",
        "name: Alan, city: Wilmslow",
        "name: Grace, city: New York, note: admiral",
    ]
    assert len(doc.tables) == 1
    table = doc.tables[0]
    assert table.header == ["name", "city", "note"]
    assert table.rows == [
        ["Ada", "London", "likes, commas"],
        ["Alan", "Wilmslow", ""],
        ["Grace", "New York", "admiral"],
    ]
    assert table.source == "csv"
    assert doc.metadata.title is None
    _check_spans(doc)


def test_csv_semicolon_latin1(tmp_path: Path) -> None:
    source = "Ville;Caf\u00e9\nParis;cr\u00e8me\nLyon;noisette\n"
    path = _write(tmp_path, "villes.csv", source, "latin-1")
    doc = parse_document(path, "text/csv")
    assert doc.tables[0].header == ["Ville", "Caf\u00e9"]
    assert "Ville: Paris, Caf\u00e9: cr\u00e8me" in doc.text


def test_json(tmp_path: Path) -> None:
    value = {
        "title": "Inventory",
        "owner": {"name": "Ada", "active": True},
        "items": [{"sku": "A1"}, 2, None],
        "tags": [],
    }
    path = _write(tmp_path, "inventory.json", json.dumps(value, indent=2))
    assert detect_type(path.read_bytes(), "") == JSON
    doc = parse_document(path, "application/json")
    assert doc.text.splitlines() == [
        "title: Inventory",
        "owner.name: Ada",
        "owner.active: true",
        "items[0].sku: A1",
        "items[1]: 2",
        "items[2]: null",
        "tags: []",
    ]
    assert doc.metadata.title == "Inventory"
    _check_spans(doc)


def test_invalid_json(tmp_path: Path) -> None:
    path = _write(tmp_path, "broken.json", '{\n  "a": 1,\n  "b": \n}\n')
    error = _parse_error(path, "application/json")
    assert error.code == CORRUPT_FILE
    assert "line 4" in error.message


@pytest.mark.parametrize(
    ("name", "content_type", "data"),
    [
        ("empty.txt", PLAIN, b""),
        ("empty.pdf", PDF, b""),
        ("empty.docx", DOCX, b""),
        ("empty.csv", CSV, b""),
        ("blank.txt", PLAIN, b"  \n\t\r\n  "),
        ("blank.md", MARKDOWN, "\ufeff   \n".encode()),
        ("blank.json", JSON, b"\n\n"),
        ("blank.csv", CSV, b"\n \n"),
        ("blank.html", HTML, b"   "),
    ],
)
def test_empty_files(tmp_path: Path, name: str, content_type: str, data: bytes) -> None:
    path = _write(tmp_path, name, data)
    assert _parse_error(path, content_type).code == EMPTY_FILE


def test_random_binary(tmp_path: Path) -> None:
    data = random.Random(1234).randbytes(8192)
    path = _write(tmp_path, "noise.txt", data)
    media_type = detect_type(data, path.name)
    assert media_type == OCTET_STREAM
    assert not is_supported(media_type)
    assert _parse_error(path, media_type).code == UNSUPPORTED_TYPE
    # Forced through a text parser anyway, it is not text in any encoding.
    for content_type in (PLAIN, MARKDOWN, CSV, JSON, HTML):
        assert _parse_error(path, content_type).code == UNDECODABLE_TEXT


def test_unsupported_type(tmp_path: Path) -> None:
    path = _write(tmp_path, "song.mp3", b"ID3\x04" + b"\x00" * 32)
    error = _parse_error(path, "audio/mpeg")
    assert error.code == UNSUPPORTED_TYPE
    assert "audio/mpeg" in error.message


def test_language_detection_is_deterministic(tmp_path: Path) -> None:
    path = _write(tmp_path, "short.txt", "Ciao, come stai? Tutto bene, grazie mille amico mio.")
    languages = {parse_document(path, "text/plain").metadata.language for _ in range(5)}
    assert languages == {"it"}


# --------------------------------------------------------------------------- b) the shared corpus

SHARED_DOCS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "docs"


def _manifest() -> list[dict[str, Any]]:
    path = SHARED_DOCS / "MANIFEST.json"
    if not path.is_file():
        return []
    return json.loads(path.read_text(encoding="utf-8"))


MANIFEST = _manifest()
SHARED = [pytest.param(entry, id=entry["file"]) for entry in MANIFEST] or [pytest.param(None, id="shared-docs-absent")]
ABSENT_REASON = f"shared document corpus not found at {SHARED_DOCS} (it lives beside the project checkout)"

# What each manifest type must end as: ("ok", None) or ("error", code). Decisions, per the manifest notes:
# - pdf-malformed (pypdf_unreadablemetadata.pdf): pypdf raises, pdfminer.six extracts the text, so it must parse.
# - pdf-corrupt: ocrmypdf_invalid.pdf has no objects at all and derived_truncated_libtasn1.pdf lost its xref and
#   trailer; both pypdf and pdfminer.six fail on them (notes), nothing is recovered -> CORRUPT_FILE.
# - pdf-scanned-no-text-layer: scanned pages of legible text, read by OCR (ocr auto) -> parsed. pdf-no-text-layer
#   (pypdf_grayscale-image.pdf) is an illustration without text: OCR finds none -> NO_TEXT_LAYER.
# - markdown-as-txt is Markdown under a .txt name: parsed as text (the name says text/plain).
OUTCOMES: dict[str, tuple[str, str | None]] = {
    "pdf": ("ok", None),
    "pdf-malformed": ("ok", None),
    "pdf-encrypted": ("error", ENCRYPTED_DOCUMENT),
    "pdf-no-text-layer": ("error", NO_TEXT_LAYER),
    "pdf-scanned-no-text-layer": ("ok", None),
    "pdf-corrupt": ("error", CORRUPT_FILE),
    "pdf-empty": ("error", EMPTY_FILE),
    "docx": ("ok", None),
    "docx-corrupt": ("error", CORRUPT_FILE),
    "docx-encrypted": ("error", ENCRYPTED_DOCUMENT),
    "html": ("ok", None),
    "markdown": ("ok", None),
    "markdown-as-txt": ("ok", None),
    "text": ("ok", None),
    "text-empty": ("error", EMPTY_FILE),
    "csv": ("ok", None),
    "json": ("ok", None),
}
FAMILIES: dict[str, set[str]] = {
    "pdf": {PDF},
    "docx": {DOCX},
    "html": {HTML},
    "markdown": {MARKDOWN},
    "markdown-as-txt": {PLAIN, MARKDOWN},
    "text": {PLAIN},
    "csv": {CSV},
    "json": {JSON},
}


def _family(manifest_type: str) -> set[str]:
    if manifest_type in FAMILIES:
        return FAMILIES[manifest_type]
    return FAMILIES[manifest_type.split("-", 1)[0]]


def _has(*needles: str) -> Callable[[ParsedDocument], None]:
    def check(doc: ParsedDocument) -> None:
        for needle in needles:
            assert needle in doc.text, needle

    return check


def _checks(*checks: Callable[[ParsedDocument], None]) -> Callable[[ParsedDocument], None]:
    def check(doc: ParsedDocument) -> None:
        for one in checks:
            one(doc)

    return check


def _pages(count: int) -> Callable[[ParsedDocument], None]:
    def check(doc: ParsedDocument) -> None:
        assert len(doc.pages) == count
        assert all(span.char_end > span.char_start for span in doc.pages), "every page has text"

    return check


def _meta(**expected: Any) -> Callable[[ParsedDocument], None]:
    def check(doc: ParsedDocument) -> None:
        for key, value in expected.items():
            assert getattr(doc.metadata, key) == value, key

    return check


def _tables(
    count: int, first_header: list[str] | None = None, rows: int | None = None
) -> Callable[[ParsedDocument], None]:
    def check(doc: ParsedDocument) -> None:
        assert len(doc.tables) == count
        if first_header is not None:
            assert doc.tables[0].header == first_header
        if rows is not None:
            assert len(doc.tables[0].rows) == rows

    return check


def _parser(prefix: str) -> Callable[[ParsedDocument], None]:
    def check(doc: ParsedDocument) -> None:
        assert doc.parser.startswith(prefix), doc.parser

    return check


def _that(predicate: Callable[[ParsedDocument], bool], what: str) -> Callable[[ParsedDocument], None]:
    def check(doc: ParsedDocument) -> None:
        assert predicate(doc), what

    return check


def _arabic(doc: ParsedDocument) -> None:
    assert any("\u0600" <= ch <= "\u06ff" for ch in doc.text)


def _no_ligatures(doc: ParsedDocument) -> None:
    assert not any(ch in doc.text for ch in "\ufb00\ufb01\ufb02\ufb03\ufb04")


def _no_replacement_chars(doc: ParsedDocument) -> None:
    assert "\ufffd" not in doc.text


# Extra, file-specific expectations for files that parse.
FILE_CHECKS: dict[str, Callable[[ParsedDocument], None]] = {
    "pypdf_minimal-document.pdf": _checks(_pages(1), _has("Lorem ipsum")),
    "pypdf_pdflatex-4-pages.pdf": _pages(4),
    "pypdf_GeoTopo-komprimiert.pdf": _checks(
        _pages(117), _meta(title="Geometrie und Topologie", authors=["Martin Thoma"], language="de"), _no_ligatures
    ),
    "pypdf_multicolumn.pdf": _checks(_pages(3), _has("Two-Column Document with Lorem Ipsum")),
    "pypdf_habibi.pdf": _checks(_pages(1), _has("habibi"), _arabic, _meta(title="habibi")),
    "pypdf_unreadablemetadata.pdf": _checks(_parser("pdfminer.six "), _has("Rotary Potentiometer")),
    "tika_testPDFVarious.pdf": _checks(_pages(2), _meta(authors=["Michael McCandless"], language="en")),
    "debian_libtasn1.pdf": _checks(_pages(36), _has("libtasn1"), _meta(title=None)),  # no /Title in its info dictionary
    "tika_testWORD_various.docx": _checks(
        _has("Here is a text box", "This is a footnote.", "This is the header text.", "This is the footer text."),
        _has("Row 1 Col 1 | Row 1 Col 2 | Row 1 Col 3", "\u30be\u30eb\u30b2"),
        _tables(1, ["Row 1 Col 1", "Row 1 Col 2", "Row 1 Col 3"]),
        _meta(authors=["Michael McCandless"]),
        _that(lambda doc: doc.text.count("Here is a text box") == 1, "text box text appears once"),
    ),
    "tika_testWORD_2006ml.docx": _checks(_tables(3), _meta(title="My Document Title"), _has("This is a text box")),
    "tika_testWORD_numbered_list.docx": _checks(_has("Intervening table", "I\u2019m a little text box")),
    "pandoc_tables.docx": _tables(3, ["Name", "Game", "Fame", "Blame"], rows=3),
    "pandoc_notes.docx": _has("My note.", "This is an endnote at the end of the document."),
    "tika_testHTML_charset_utf16le.html": _checks(_has("This is a sample text"), _meta(title="Title")),
    "debian_python-policy.html": _checks(
        _has("Lo\u00efc Minier"), _meta(title="Debian Python Policy 0.12.0.0 documentation", language="en")
    ),
    "debian_nodejs-api-events.html": _checks(
        _has("EventEmitter", "myEmitter.on("),
        _that(lambda doc: doc.text.startswith("Events\n"), "starts with the main heading, not navigation"),
        _that(lambda doc: len(doc.tables) >= 1, "the version-history tables are found"),
    ),
    "debian_libxslt-news_iso-8859-1.html": _checks(
        _has("v1.1.35", "J\u00e9r\u00f4me", "J\u00f6rg"), _no_replacement_chars
    ),
    "debian_base-passwd-users-and-groups.html": _meta(title="Users and Groups in the Debian System"),
    "pandoc_twenty-years-of-pandoc.md": _meta(title="Twenty Years of Pandoc"),
    "debian_nodejs-api-events.md": _meta(title="Events"),
    "pandoc_MANUAL.txt": _meta(title="Pandoc User's Guide", authors=["John MacFarlane"]),
    "debian_ed-AUTHORS_iso-8859-1.txt": _checks(_has("Fran\u00e7ois"), _no_replacement_chars),
    "ocrmypdf_linn.txt": _has("LinnSequencer"),
    "datasets_country-codes.csv": _checks(
        _tables(1, rows=249), _that(lambda doc: len(doc.tables[0].header) == 56, "56 columns")
    ),
    "datasets_gdp.csv": _checks(
        _tables(1, ["Country Name", "Country Code", "Year", "Value"], rows=13979),
        _has("Country Name: Afghanistan, Country Code: AFG, Year: "),
    ),
    "datasets_gdp_datapackage.json": _that(
        lambda doc: (doc.metadata.title or "").startswith("Country, Regional and World GDP"), "title from the JSON"
    ),
    "pypdf_files.json": _has("data[0].path: 001-trivial/minimal-document.pdf"),
}


def _require_shared(entry: dict[str, Any] | None) -> dict[str, Any]:
    if entry is None:
        pytest.skip(ABSENT_REASON)
    return entry


def test_shared_manifest_covers_the_folder() -> None:
    if not MANIFEST:
        pytest.skip(ABSENT_REASON)
    on_disk = {p.name for p in SHARED_DOCS.iterdir() if p.is_file() and not p.name.startswith("MANIFEST.")}
    assert on_disk == {entry["file"] for entry in MANIFEST}
    unknown = {entry["type"] for entry in MANIFEST} - set(OUTCOMES)
    assert not unknown, f"add an expected outcome for manifest types {unknown}"


@pytest.mark.parametrize("entry", SHARED)
def test_shared_detect_type(entry: dict[str, Any] | None) -> None:
    entry = _require_shared(entry)
    path = SHARED_DOCS / entry["file"]
    with path.open("rb") as fp:
        head = fp.read(64 * 1024)
    assert detect_type(head, path.name) in _family(entry["type"])
    # Content alone (no name) must agree for everything that has content and an unambiguous shape.
    if head and entry["type"] not in ("markdown", "markdown-as-txt", "csv", "docx-corrupt"):
        assert detect_type(head) in _family(entry["type"])


@pytest.mark.parametrize("entry", SHARED)
def test_shared_parse(entry: dict[str, Any] | None) -> None:
    entry = _require_shared(entry)
    path = SHARED_DOCS / entry["file"]
    state, code = OUTCOMES[entry["type"]]
    with path.open("rb") as fp:
        media_type = detect_type(fp.read(64 * 1024), path.name)
    if state == "error":
        assert _parse_error(path, media_type).code == code
        return
    if entry["type"] == "pdf-scanned-no-text-layer":
        # OCR reads these through the API in test_shared_documents.py (OCR is slow: once is enough); here,
        # without OCR, they have no text.
        with pytest.raises(ParseError) as info:
            parse_document(path, media_type, ocr="off")
        assert info.value.code == NO_TEXT_LAYER
        return
    doc = parse_document(path, media_type)
    assert doc.content_type == media_type
    assert len(doc.text.strip()) >= 20, "parsed documents carry real text"
    assert doc.text == doc.text.strip()
    assert "\x00" not in doc.text
    _check_spans(doc)
    check = FILE_CHECKS.get(entry["file"])
    if check is not None:
        check(doc)


def test_parse_module_documents_every_code() -> None:
    doc = parse_module.__doc__ or ""
    for code in (EMPTY_FILE, CORRUPT_FILE, ENCRYPTED_DOCUMENT, NO_TEXT_LAYER, UNDECODABLE_TEXT, UNSUPPORTED_TYPE):
        assert code in doc
