"""HTML main content and headings (vecflow.pipeline.parse.web, web_navigation): navigation that pages do not
mark as such (texinfo Next/Previous/Up panels, breadcrumbs, cookie banners, sidebars, link lists) stays out of
the text, the main content stays in, and h1–h6 are recorded at their positions in the text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers.html_manuals import Manual, manuals
from vecflow.pipeline.parse import ParsedDocument, parse_document

SHARED_DOCS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "docs"
ISSUE_LINE = "Variables, Previous: Command Line Options, Up: Basic Elements [Contents]"


def flat(text: str) -> str:
    return " ".join(text.replace("\xa0", " ").split())


def occurrences(text: str, phrase: str) -> int:
    return len(re.findall(r"(?<!\w)" + re.escape(flat(phrase)) + r"(?!\w)", text))


def parse(tmp_path: Path, html: str | bytes, name: str = "page.html") -> ParsedDocument:
    path = tmp_path / name
    path.write_bytes(html.encode("utf-8") if isinstance(html, str) else html)
    return parse_document(path, "text/html")


def check_headings(doc: ParsedDocument) -> None:
    starts = [h.char_start for h in doc.headings]
    assert starts == sorted(starts)
    for heading in doc.headings:
        assert 1 <= heading.level <= 6
        assert flat(doc.text[heading.char_start : heading.char_start + 3 * len(heading.title)]).startswith(
            heading.title
        ), heading


@pytest.mark.parametrize("manual", manuals(), ids=lambda m: m.name)
def test_generated_manuals_lose_their_navigation_and_keep_their_content(tmp_path: Path, manual: Manual) -> None:
    doc = parse(tmp_path, manual.html)
    text, main = flat(doc.text), flat("\n".join(manual.main))
    left = [p for p in set(manual.boilerplate) if occurrences(text, p) > occurrences(main, p)]
    assert not left, f"navigation left in the text: {left}"
    lost = [line for line in manual.main if flat(line) not in text]
    assert not lost, f"main content lost: {lost}"
    assert [(h.level, h.title) for h in doc.headings] == manual.headings
    check_headings(doc)


def test_the_texinfo_navigation_line_of_the_issue_is_gone(tmp_path: Path) -> None:
    texinfo = manuals()[0]
    assert any(ISSUE_LINE in line for line in texinfo.boilerplate)
    doc = parse(tmp_path, texinfo.html)
    assert "Previous:" not in doc.text and "[Contents]" not in doc.text
    assert doc.text.startswith("2.2 Numbers\n\nTally reads every number")
    assert doc.metadata.title == "Numbers (The Tally Manual)"


def test_navigation_goes_in_a_page_in_a_legacy_charset(tmp_path: Path) -> None:
    html = (
        '<html><head><meta charset="iso-8859-1"><title>Caf\u00e9</title></head><body>'
        '<div class="breadcrumbs"><a href="/">Accueil</a> &raquo; <a href="/guide">Guide</a> &raquo; Caf\u00e9</div>'
        '<div class="header"><p>Suivant: <a href="a.html" rel="next">Th\u00e9</a>, Pr\u00e9c\u00e9dent: '
        '<a href="b.html" rel="prev">Eau</a>, Haut: <a href="c.html" rel="up">Boissons</a></p></div>'
        "<h2>Le caf\u00e9</h2><p>Un caf\u00e9 cr\u00e8me se boit le matin, \u00e0 la terrasse.</p>"
        '<div id="cookie-banner"><p>Nous utilisons des cookies. <a href="/vie-privee">En savoir plus</a></p></div>'
        "</body></html>"
    )
    doc = parse(tmp_path, html.encode("iso-8859-1"))
    assert doc.text == "Le caf\u00e9\n\nUn caf\u00e9 cr\u00e8me se boit le matin, \u00e0 la terrasse."
    assert [(h.level, h.title, h.char_start) for h in doc.headings] == [(2, "Le caf\u00e9", 0)]


def test_heading_positions_and_titles(tmp_path: Path) -> None:
    html = (
        "<html><body><main>"
        '<h1>Events <a class="headerlink" href="#events">\u00b6</a></h1><p>Intro \ue001text\ue000.</p>'
        "<h2>Class: <code>EventEmitter</code></h2><p>Emits events.</p>"
        "<h3>\n   Spaced\n   heading  </h3><p>Body.</p>"
        "<h4></h4><h4><img src='x.png' alt='only an image'></h4>"
        "<h2>Outer <h3>nested</h3> tail</h2><p>After.</p>"
        "</main></body></html>"
    )
    doc = parse(tmp_path, html)
    assert "\ue000" not in doc.text and "\ue001" not in doc.text  # the page's own private-use marks are removed
    assert [(h.level, h.title) for h in doc.headings] == [
        (1, "Events"),
        (2, "Class: EventEmitter"),
        (3, "Spaced heading"),
        (2, "Outer nested tail"),
    ]
    check_headings(doc)
    assert doc.headings[0].char_start == 0
    assert doc.text[doc.headings[2].char_start :].startswith("Spaced heading\n\nBody.")


def test_an_articles_own_header_is_content_and_the_pages_is_not(tmp_path: Path) -> None:
    html = (
        "<html><body><header><a href='/'>Site name</a><p>Tagline of the site</p></header>"
        "<article><header><h1>Growing tomatoes</h1><p>By Ada Gardener</p></header>"
        "<p>Tomatoes need full sun and regular watering to ripen well, and a stake to lean on as they grow.</p>"
        "<footer><p>Posted in Garden</p></footer></article>"
        "<footer><p>Copyright Site name</p></footer></body></html>"
    )
    doc = parse(tmp_path, html)
    assert doc.text.startswith("Growing tomatoes\n\nBy Ada Gardener\n\nTomatoes need full sun")
    for noise in ("Site name", "Tagline", "Posted in", "Copyright"):
        assert noise not in doc.text
    assert [(h.level, h.title) for h in doc.headings] == [(1, "Growing tomatoes")]


def test_sections_named_after_navigation_words_keep_their_content(tmp_path: Path) -> None:
    """Ids are often made from headings: a section "Related work" or a texinfo node "Navigation" is content."""
    html = (
        "<html><body>"
        '<div class="section-level-extent" id="Navigation"><h3>3.1 Navigation</h3>'
        "<p>Move between nodes with n, p and u, as in any Info reader.</p></div>"
        '<section id="related-work"><h2>Related work</h2><p>Earlier calculators kept one total only.</p></section>'
        "</body></html>"
    )
    doc = parse(tmp_path, html)
    assert "Move between nodes" in doc.text and "Earlier calculators kept one total only." in doc.text
    assert [h.title for h in doc.headings] == ["3.1 Navigation", "Related work"]


def test_a_page_that_is_a_list_of_links_keeps_them(tmp_path: Path) -> None:
    links = "".join(f'<li><a href="/docs/{n}.html">Chapter {n}: topic number {n}</a></li>' for n in range(1, 30))
    doc = parse(tmp_path, f"<html><body><h1>Site map</h1><ul>{links}</ul></body></html>")
    assert "Chapter 1: topic number 1" in doc.text and "Chapter 29: topic number 29" in doc.text


def test_api_parameter_lists_with_type_links_are_kept(tmp_path: Path) -> None:
    html = (
        "<html><body><h3>emitter.on(eventName, listener)</h3><ul>"
        '<li><code>eventName</code> <a href="#string" class="type">&lt;string&gt;</a> | '
        '<a href="#symbol" class="type">&lt;symbol&gt;</a> The name of the event.</li>'
        '<li><code>listener</code> <a href="#function" class="type">&lt;Function&gt;</a> The callback function</li>'
        '<li>Returns: <a href="#emitter" class="type">&lt;EventEmitter&gt;</a></li></ul></body></html>'
    )
    doc = parse(tmp_path, html)
    assert "eventName <string> | <symbol> The name of the event." in doc.text
    assert "Returns: <EventEmitter>" in doc.text


def shared(name: str) -> Path:
    path = SHARED_DOCS / name
    if not path.exists():
        pytest.skip(f"shared document corpus not found at {SHARED_DOCS} (it lives beside the project checkout)")
    return path


def test_shared_pages_lose_their_menus_and_tables_of_contents() -> None:
    news = parse_document(shared("debian_libxslt-news_iso-8859-1.html"), "text/html")
    assert "Main Menu" not in news.text and "Related links" not in news.text and "Windows binaries" not in news.text
    assert "J\u00e9r\u00f4me" in news.text and "v1.1.35: Feb 16 2022" in news.text
    assert [h.title for h in news.headings[:3]] == ["The XSLT C library for GNOME", "News", "v1.1.35: Feb 16 2022"]
    policy = parse_document(shared("debian_python-policy.html"), "text/html")
    assert "Module Index" not in policy.text and "Indices and tables" not in policy.text
    assert "Lo\u00efc Minier" in policy.text
    users = parse_document(shared("debian_base-passwd-users-and-groups.html"), "text/html")
    assert "Table of Contents" not in users.text and "Chapter 1. Introduction" in users.text
    for doc in (news, policy, users):
        check_headings(doc)


def test_shared_api_page_headings() -> None:
    doc = parse_document(shared("debian_nodejs-api-events.html"), "text/html")
    assert doc.headings[0].title == "Events" and doc.headings[0].char_start == 0 and doc.headings[0].level == 2
    titles = [h.title for h in doc.headings]
    assert "Class: EventEmitter" in titles and "Passing arguments and this to listeners" in titles
    check_headings(doc)
