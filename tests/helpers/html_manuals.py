"""HTML manuals as real generators write them, with their navigation, for tests/test_html_content.py and
bench/html_content.py: a texinfo 7 node page, a texinfo 6 whole manual on one page, and a product guide in a
CMS layout (cookie banner, top menu, sidebar table of contents, breadcrumbs, feedback box, footer).

Each `Manual` lists the lines of its main content (`main`: what a reader came for, each line as it should read
in the parsed text), the navigation and boilerplate around it (`boilerplate`: one distinctive phrase for each
line of it, none of which belongs in a chunk more often than the main lines hold it) and the headings of its
main content in order (`headings`: level, title).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape


@dataclass
class Manual:
    name: str
    html: str
    main: list[str] = field(default_factory=list)
    boilerplate: list[str] = field(default_factory=list)
    headings: list[tuple[int, str]] = field(default_factory=list)


class _Page:
    """Collects a page's HTML with its main lines, boilerplate lines and headings."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.main: list[str] = []
        self.boilerplate: list[str] = []
        self.headings: list[tuple[int, str]] = []

    def raw(self, html: str) -> None:
        self.parts.append(html)

    def nav(self, html: str, *lines: str) -> None:
        self.parts.append(html)
        self.boilerplate.extend(lines)

    def heading(self, level: int, title: str, attrs: str = "", suffix: str = "") -> None:
        self.parts.append(f"<h{level}{attrs}>{escape(title)}{suffix}</h{level}>\n")
        self.main.append(title)
        self.headings.append((level, title))

    def para(self, text: str, attrs: str = "") -> None:
        self.parts.append(f"<p{attrs}>{escape(text)}</p>\n")
        self.main.append(text)

    def items(self, texts: list[str], tag: str = "ul") -> None:
        self.parts.append(f"<{tag}>" + "".join(f"<li>{escape(t)}</li>" for t in texts) + f"</{tag}>\n")
        self.main.extend(texts)

    def pre(self, lines: list[str], attrs: str = "") -> None:
        self.parts.append(f"<pre{attrs}>" + escape("\n".join(lines)) + "\n</pre>\n")
        self.main.extend(lines)

    def table(self, rows: list[list[str]]) -> None:
        cells = [
            "<tr>"
            + "".join(f"<{'th' if r == 0 else 'td'}>{escape(c)}</{'th' if r == 0 else 'td'}>" for c in row)
            + "</tr>"
            for r, row in enumerate(rows)
        ]
        self.parts.append("<table>" + "".join(cells) + "</table>\n")
        self.main.extend(" | ".join(row) for row in rows)

    def manual(self, name: str) -> Manual:
        return Manual(name, "".join(self.parts), self.main, self.boilerplate, self.headings)


# --------------------------------------------------------------------------- texinfo 7, one node per page

_TEXINFO_STYLE = """<style type="text/css">
<!--
a.copiable-link {visibility: hidden; text-decoration: none; line-height: 0em}
div.example {margin-left: 3.2em}
span:hover a.copiable-link {visibility: visible}
ul.mini-toc {list-style-type: none}
-->
</style>
"""


def _texinfo7_nav(nxt: str, prev: str, up: str) -> tuple[str, str]:
    html = (
        '<div class="nav-panel">\n<p>\n'
        f'Next: <a href="{nxt.replace(" ", "-")}.html" accesskey="n" rel="next">{nxt}</a>, '
        f'Previous: <a href="{prev.replace(" ", "-")}.html" accesskey="p" rel="prev">{prev}</a>, '
        f'Up: <a href="{up.replace(" ", "-")}.html" accesskey="u" rel="up">{up}</a> &nbsp; '
        '[<a href="index.html#SEC_Contents" title="Table of contents" rel="contents">Contents</a>]'
        '[<a href="Indices.html" title="Index" rel="index">Index</a>]</p>\n</div>\n'
    )
    return html, f"Next: {nxt}, Previous: {prev}, Up: {up} [Contents][Index]"


def texinfo7_node() -> Manual:
    """`makeinfo --html` (texinfo 7.1) output for one node: nav panels above and below, a mini table of
    contents of the subsections, permalinks, index anchors, an example."""
    page = _Page()
    page.raw(
        "<!DOCTYPE html>\n<html>\n<!-- Created by GNU Texinfo 7.1, https://www.gnu.org/software/texinfo/ -->\n"
        '<head>\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\n'
        "<title>Numbers (The Tally Manual)</title>\n"
        '<meta name="description" content="Numbers (The Tally Manual)">\n<meta name="Generator" content="makeinfo">\n'
        '<link href="index.html" rel="start" title="Top">\n<link href="Basic-Elements.html" rel="up" title="Basic Elements">\n'
        f'{_TEXINFO_STYLE}</head>\n<body lang="en">\n'
        '<div class="section-level-extent" id="Numbers">\n'
    )
    nav, nav_line = _texinfo7_nav("Variables", "Command Line Options", "Basic Elements")
    page.nav(nav, nav_line)
    page.raw("<hr>\n")
    page.heading(
        3,
        "2.2 Numbers",
        ' class="section" id="Numbers-1"',
        '<a class="copiable-link" href="#Numbers-1"> &para;</a>',
    )
    page.raw('<a class="index-entry-id" id="index-numbers"></a>\n<a class="index-entry-id" id="index-decimal"></a>\n')
    page.para(
        "Tally reads every number as a decimal floating-point value with 34 significant digits, so that "
        "0.1 + 0.2 is exactly 0.3 and money sums come out to the cent."
    )
    page.para(
        "A number is written as digits with an optional fraction and an optional exponent. An underscore may "
        "separate groups of digits for readability; Tally ignores it."
    )
    page.raw('<div class="example">\n')
    page.pre(["tally> 1_000_000 * 1.5e-3", "1500", "tally> 7 / 2", "3.5"], ' class="example-preformatted"')
    page.raw("</div>\n")
    page.para(
        "Division by zero is an error unless the --ieee option is given, in which case it yields Infinity or NaN "
        "as the IEEE 754 standard prescribes."
    )
    page.nav(
        '<ul class="mini-toc">\n'
        '<li><a href="Integer-Literals.html" accesskey="1">Integer Literals</a></li>\n'
        '<li><a href="Exponent-Notation.html" accesskey="2">Exponent Notation</a></li>\n'
        '<li><a href="Rounding-Modes.html" accesskey="3">Rounding Modes</a></li>\n'
        "</ul>\n",
        "Integer Literals",
        "Exponent Notation",
        "Rounding Modes",
    )
    page.raw("<hr>\n")
    page.raw(nav)
    page.raw("</div>\n</body>\n</html>\n")
    return page.manual("texinfo 7 node page")


# --------------------------------------------------------------------------- texinfo 6, the whole manual on one page


def _texinfo6_header(node: str, nxt: str | None, prev: str | None, up: str) -> tuple[str, str]:
    links, words = [], []
    for label, target, key, rel in (("Next", nxt, "n", "next"), ("Previous", prev, "p", "prev"), ("Up", up, "u", "up")):
        if target:
            links.append(f'{label}: <a href="#{target.replace(" ", "-")}" accesskey="{key}" rel="{rel}">{target}</a>')
            words.append(f"{label}: {target}")
    html = (
        f'<span id="{node.replace(" ", "-")}"></span><div class="header">\n<p>\n'
        + ", ".join(links)
        + ' &nbsp; [<a href="#SEC_Contents" title="Table of contents" rel="contents">Contents</a>]'
        '[<a href="#Index" title="Index" rel="index">Index</a>]</p>\n</div>\n<hr>\n'
    )
    return html, ", ".join(words) + " [Contents][Index]"


def texinfo6_manual() -> Manual:
    """`makeinfo --html --no-split` (texinfo 6.8): the whole manual on one page, a table of contents, a header
    with Next/Previous/Up before every node, menu tables, an index with a "Jump to" letter bar, a footnote."""
    page = _Page()
    page.raw(
        '<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" "http://www.w3.org/TR/html4/loose.dtd">\n'
        "<html>\n<!-- Created by GNU Texinfo 6.8, http://www.gnu.org/software/texinfo/ -->\n<head>\n"
        "<title>The Tally Manual</title>\n"
        '<meta name="description" content="The Tally Manual">\n<meta name="Generator" content="makeinfo">\n'
        '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\n'
        '<style type="text/css">\n<!--\na.summary-letter {text-decoration: none}\ntable.menu {border-collapse: collapse}\n'
        '-->\n</style>\n</head>\n<body lang="en">\n'
        '<h1 class="settitle" align="center">The Tally Manual</h1>\n'
    )
    page.main.append("The Tally Manual")
    page.headings.append((1, "The Tally Manual"))
    contents = [
        "1 Overview",
        "2 Basic Elements",
        "2.1 Command Line Options",
        "2.2 Numbers",
        "2.3 Variables",
        "Index",
    ]
    page.nav(
        '<span id="SEC_Contents"></span>\n<h2 class="contents-heading">Table of Contents</h2>\n\n<div class="contents">\n'
        '<ul class="no-bullet">\n<li><a id="toc-Overview" href="#Overview">1 Overview</a></li>\n'
        '<li><a id="toc-Basic-Elements" href="#Basic-Elements">2 Basic Elements</a>\n<ul class="no-bullet">\n'
        '  <li><a id="toc-Command-Line-Options" href="#Command-Line-Options">2.1 Command Line Options</a></li>\n'
        '  <li><a id="toc-Numbers" href="#Numbers">2.2 Numbers</a></li>\n'
        '  <li><a id="toc-Variables" href="#Variables">2.3 Variables</a></li>\n</ul></li>\n'
        '<li><a id="toc-Index-1" href="#Index" rel="index">Index</a></li>\n</ul>\n</div>\n<hr>\n',
        "Table of Contents",
        *contents,
    )
    header, line = _texinfo6_header("Top", "Overview", None, "(dir)")
    page.nav(header, line)
    page.heading(1, "Tally", ' class="top"')
    page.para("This manual documents Tally, a calculator language for bookkeeping, version 3.1.")
    page.nav(
        '<table class="menu" border="0" cellspacing="0">\n'
        '<tr><td align="left" valign="top">&bull; <a href="#Overview" accesskey="1">Overview</a>:</td>'
        '<td>&nbsp;&nbsp;</td><td align="left" valign="top">What Tally is for.\n</td></tr>\n'
        '<tr><td align="left" valign="top">&bull; <a href="#Basic-Elements" accesskey="2">Basic Elements</a>:</td>'
        '<td>&nbsp;&nbsp;</td><td align="left" valign="top">Numbers, variables and options.\n</td></tr>\n'
        '<tr><td align="left" valign="top">&bull; <a href="#Index" accesskey="3">Index</a>:</td>'
        '<td>&nbsp;&nbsp;</td><td align="left" valign="top">\n</td></tr>\n</table>\n<hr>\n',
        "What Tally is for.",
        "Numbers, variables and options.",
    )
    header, line = _texinfo6_header("Overview", "Basic Elements", "Top", "Top")
    page.nav(header, line)
    page.heading(2, "1 Overview", ' class="chapter"')
    page.para(
        "Tally keeps running totals of the figures you type, in named accounts, and prints them rounded the way "
        "your accountant expects. It reads commands from a terminal or from files."
    )
    page.raw(
        '<p>Tally started as a one-page script for a village shop.<a id="DOCF1" href="#FOOT1"><sup>1</sup></a></p>\n'
    )
    page.main.append("Tally started as a one-page script for a village shop.1")
    page.raw("<hr>\n")
    header, line = _texinfo6_header("Basic Elements", None, "Overview", "Top")
    page.nav(header, line)
    page.heading(2, "2 Basic Elements", ' class="chapter"')
    page.para("This chapter describes the parts every Tally program is made of.")
    page.nav(
        '<table class="menu" border="0" cellspacing="0">\n'
        '<tr><td align="left" valign="top">&bull; <a href="#Command-Line-Options" accesskey="1">Command Line Options'
        '</a>:</td><td>&nbsp;&nbsp;</td><td align="left" valign="top">How to start Tally.\n</td></tr>\n'
        '<tr><td align="left" valign="top">&bull; <a href="#Numbers" accesskey="2">Numbers</a>:</td>'
        '<td>&nbsp;&nbsp;</td><td align="left" valign="top">How Tally reads numbers.\n</td></tr>\n'
        '<tr><td align="left" valign="top">&bull; <a href="#Variables" accesskey="3">Variables</a>:</td>'
        '<td>&nbsp;&nbsp;</td><td align="left" valign="top">Naming values.\n</td></tr>\n</table>\n<hr>\n',
        "How to start Tally.",
        "How Tally reads numbers.",
        "Naming values.",
    )
    header, line = _texinfo6_header("Command Line Options", "Numbers", None, "Basic Elements")
    page.nav(header, line)
    page.heading(3, "2.1 Command Line Options", ' class="section"')
    page.para("Tally accepts the following options before the names of the files it reads:")
    page.raw(
        '<dl compact="compact">\n<dt><code>--ieee</code></dt>\n<dd><p>Follow IEEE 754 for division by zero.</p></dd>\n'
        "<dt><code>--accounts=<var>file</var></code></dt>\n<dd><p>Read the chart of accounts from file.</p></dd>\n</dl>\n<hr>\n"
    )
    page.main += [
        "--ieee",
        "Follow IEEE 754 for division by zero.",
        "--accounts=file",
        "Read the chart of accounts from file.",
    ]
    header, line = _texinfo6_header("Numbers", "Variables", "Command Line Options", "Basic Elements")
    page.nav(header, line)
    page.heading(3, "2.2 Numbers", ' class="section"')
    page.para(
        "Tally reads every number as a decimal floating-point value with 34 significant digits, so that "
        "0.1 + 0.2 is exactly 0.3."
    )
    page.pre(["tally> 7 / 2", "3.5"], ' class="example"')
    page.raw("<hr>\n")
    header, line = _texinfo6_header("Variables", "Index", "Numbers", "Basic Elements")
    page.nav(header, line)
    page.heading(3, "2.3 Variables", ' class="section"')
    page.para("A variable names a value; assign it with = and use it anywhere a number may appear.")
    page.pre(["tally> rent = 1200", "tally> rent * 12", "14400"], ' class="example"')
    page.raw("<hr>\n")
    header, line = _texinfo6_header("Index", None, "Variables", "Top")
    page.nav(header, line)
    page.heading(2, "Index", ' class="unnumbered"')
    page.nav(
        '<table><tr><th valign="top">Jump to: &nbsp; </th><td><a class="summary-letter" href="#Index_cp_letter-D">'
        '<b>D</b></a> &nbsp; <a class="summary-letter" href="#Index_cp_letter-N"><b>N</b></a> &nbsp; '
        '<a class="summary-letter" href="#Index_cp_letter-V"><b>V</b></a> &nbsp; </td></tr></table>\n'
        '<table class="index-cp" border="0">\n<tr><td></td><th align="left">Index Entry</th><td>&nbsp;</td>'
        '<th align="left"> Section</th></tr>\n<tr><td colspan="4"> <hr></td></tr>\n'
        '<tr><th id="Index_cp_letter-D">D</th><td></td><td></td></tr>\n'
        '<tr><td></td><td valign="top"><a href="#index-decimal">decimal</a>:</td><td>&nbsp;</td>'
        '<td valign="top"><a href="#Numbers">Numbers</a></td></tr>\n'
        '<tr><th id="Index_cp_letter-N">N</th><td></td><td></td></tr>\n'
        '<tr><td></td><td valign="top"><a href="#index-numbers">numbers</a>:</td><td>&nbsp;</td>'
        '<td valign="top"><a href="#Numbers">Numbers</a></td></tr>\n'
        '<tr><th id="Index_cp_letter-V">V</th><td></td><td></td></tr>\n'
        '<tr><td></td><td valign="top"><a href="#index-variables">variables</a>:</td><td>&nbsp;</td>'
        '<td valign="top"><a href="#Variables">Variables</a></td></tr>\n</table>\n',
        "Jump to:",
        "Index Entry",
        "decimal:",
        "numbers:",
        "variables:",
    )
    page.raw(
        '<div class="footnote">\n<hr>\n<h4 class="footnotes-heading">Footnotes</h4>\n\n'
        '<h5><a id="FOOT1" href="#DOCF1">(1)</a></h5>\n'
        "<p>The shop sold bread, stamps and paraffin, and its owner wanted the totals by kind.</p>\n</div>\n"
    )
    page.main += [
        "Footnotes",
        "(1)",
        "The shop sold bread, stamps and paraffin, and its owner wanted the totals by kind.",
    ]
    page.headings += [(4, "Footnotes"), (5, "(1)")]
    page.raw("</body>\n</html>\n")
    return page.manual("texinfo 6 whole manual")


# --------------------------------------------------------------------------- a product guide in a CMS layout


def product_guide() -> Manual:
    """A vendor's documentation page in nested divs, no <nav>/<header>/<footer> and no ARIA roles: a cookie
    banner, a skip link, a top menu, a sidebar table of contents, breadcrumbs, a feedback box, previous/next
    links and a footer with link columns."""
    page = _Page()
    page.raw(
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>Installing firmware | Acme AR-700 documentation</title>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="stylesheet" href="/static/docs.css">\n<script src="/static/analytics.js"></script>\n'
        "</head>\n<body>\n"
    )
    page.nav(
        '<div id="cookie-notice" class="cookie-consent">\n<p>We use cookies to improve your experience and to analyse '
        'our traffic. By clicking "Accept all" you consent to our use of cookies. <a href="/legal/cookies">Cookie '
        'policy</a></p>\n<a class="btn btn-primary" href="#">Accept all</a> <a class="btn" href="#">Reject all</a>\n</div>\n',
        'We use cookies to improve your experience and to analyse our traffic. By clicking "Accept all" you consent '
        "to our use of cookies. Cookie policy",
        "Reject all",
    )
    page.nav(
        '<div class="topbar">\n<a class="skip-link" href="#content">Skip to main content</a>\n'
        '<a class="logo" href="/">Acme Networks</a>\n<div class="menu">\n'
        '<a href="/products">Products</a> <a href="/support">Support</a> <a href="/community">Community</a> '
        '<a href="/blog">Blog</a> <a href="/login">Sign in</a>\n</div>\n'
        '<div class="search"><input type="search" placeholder="Search the docs"></div>\n</div>\n',
        "Skip to main content",
        "Products Support Community Blog Sign in",
    )
    page.raw('<div class="wrapper">\n')
    toc = ["Getting started", "Installing firmware", "Configuring the router", "Wireless settings", "Troubleshooting"]
    page.nav(
        '<div class="sidebar" id="docs-sidebar">\n<p class="caption">AR-700 user guide</p>\n<ul>\n'
        + "".join(f'<li><a href="/ar700/{t.lower().replace(" ", "-")}">{t}</a></li>\n' for t in toc)
        + "</ul>\n</div>\n",
        "AR-700 user guide",
        *toc,
    )
    page.raw('<div class="document" id="content">\n')
    page.nav(
        '<div class="breadcrumbs"><a href="/">Docs</a> &raquo; <a href="/ar700/">AR-700 user guide</a> &raquo; '
        "Installing firmware</div>\n",
        "Docs » AR-700 user guide » Installing firmware",
    )
    page.heading(1, "Installing firmware")
    page.para(
        "New firmware fixes security issues and adds features. This page explains how to install a firmware image "
        "on the AR-700 from the web console or from the command line."
    )
    page.heading(2, "Before you begin")
    page.items(
        [
            "Download the image for your model from the support site and check its SHA-256 checksum.",
            "Connect your computer to the router with an Ethernet cable; do not update over Wi-Fi.",
            "Save the current configuration: System, Backup, Download.",
        ]
    )
    page.raw('<div class="admonition warning">\n')
    page.para("Warning", ' class="admonition-title"')
    page.para("Do not unplug the router while the image is written: an interrupted update can leave it unbootable.")
    page.raw("</div>\n")
    page.heading(2, "Install from the command line")
    page.para("Copy the image to the router, then install it and restart:")
    page.pre(["acme-cli firmware install --file ar700-7.2.1.bin", "acme-cli system restart"])
    page.heading(2, "Supported models")
    page.table(
        [
            ["Model", "Minimum firmware", "Notes"],
            ["AR-700", "7.0.0", "All hardware revisions"],
            ["AR-710", "7.1.2", "Revision B and later"],
        ]
    )
    page.nav(
        '<div class="page-footer">\n<div class="feedback"><p>Was this page helpful? <a href="#yes">Yes</a> '
        '<a href="#no">No</a></p></div>\n<a class="edit-link" href="https://git.example.com/docs/edit/install.md">'
        "Edit this page</a>\n</div>\n",
        "Was this page helpful?",
        "Edit this page",
    )
    page.nav(
        '<div class="prev-next">\n<a class="prev" href="/ar700/getting-started">&laquo; Getting started</a>\n'
        '<a class="next" href="/ar700/configuring-the-router">Configuring the router &raquo;</a>\n</div>\n',
        "Getting started",
        "Configuring the router",
    )
    page.raw("</div>\n</div>\n")
    page.nav(
        '<div class="site-footer">\n<div class="columns">\n'
        '<div class="col"><h4>Company</h4><a href="/about">About us</a><br><a href="/careers">Careers</a><br>'
        '<a href="/press">Press</a></div>\n'
        '<div class="col"><h4>Resources</h4><a href="/docs">Documentation</a><br><a href="/downloads">Downloads</a><br>'
        '<a href="/status">System status</a></div>\n</div>\n'
        '<p class="copyright">&copy; 2025 Acme Networks, Inc. All rights reserved. &middot; '
        '<a href="/privacy">Privacy</a> &middot; <a href="/terms">Terms of use</a></p>\n</div>\n',
        "Company",
        "About us",
        "Careers",
        "Resources",
        "System status",
        "All rights reserved.",
        "Terms of use",
    )
    page.raw("<script>window.dataLayer = window.dataLayer || [];</script>\n</body>\n</html>\n")
    return page.manual("product guide (CMS layout)")


# --------------------------------------------------------------------------- a wiki article (held out)


def wiki_article() -> Manual:
    """A MediaWiki article page (Vector skin): site notice, "From Wikipedia", jump links, an infobox, a table of
    contents, [edit] links, references, a navbox, "Retrieved from", categories, the navigation menu and footer.
    Written after the rules of web_navigation.py were set, to see how they carry over (bench/README.md)."""
    page = _Page()
    page.raw(
        '<!DOCTYPE html>\n<html class="client-nojs" lang="en" dir="ltr">\n<head>\n<meta charset="UTF-8">\n'
        '<title>Tally (language) - Wikipedia</title>\n<script>document.documentElement.className="client-js";</script>\n'
        '</head>\n<body class="skin-vector mediawiki ltr sitedir-ltr ns-0 ns-subject page-Tally_language action-view">\n'
        '<a id="top"></a>\n<div id="mw-page-base" class="noprint"></div>\n'
        '<div id="content" class="mw-body" role="main">\n<a id="top"></a>\n'
    )
    page.nav(
        '<div id="siteNotice"><div id="localNotice" data-nosnippet=""><p>Help us improve the wiki: take the two-minute '
        "reader survey.</p></div></div>\n",
        "take the two-minute reader survey.",
    )
    page.raw('<h1 id="firstHeading" class="firstHeading mw-first-heading"><span class="mw-page-title-main">')
    page.raw("Tally (language)</span></h1>\n")
    page.main.append("Tally (language)")
    page.headings.append((1, "Tally (language)"))
    page.raw('<div id="bodyContent" class="vector-body">\n')
    page.nav(
        '<div id="siteSub" class="noprint">From Wikipedia, the free encyclopedia</div>\n<div id="contentSub"></div>\n'
        '<a class="mw-jump-link" href="#mw-head">Jump to navigation</a>\n'
        '<a class="mw-jump-link" href="#searchInput">Jump to search</a>\n',
        "From Wikipedia, the free encyclopedia",
        "Jump to navigation",
        "Jump to search",
    )
    page.raw('<div id="mw-content-text" class="mw-body-content mw-content-ltr" lang="en" dir="ltr">')
    page.raw('<div class="mw-parser-output">\n')
    page.raw(
        '<table class="infobox vevent"><tbody>\n<tr><th colspan="2" class="infobox-above">Tally</th></tr>\n'
        '<tr><th scope="row" class="infobox-label">Paradigm</th><td class="infobox-data">Imperative</td></tr>\n'
        '<tr><th scope="row" class="infobox-label">First appeared</th><td class="infobox-data">2009</td></tr>\n'
        '<tr><th scope="row" class="infobox-label">Typing discipline</th><td class="infobox-data">Dynamic</td></tr>\n'
        "</tbody></table>\n"
    )
    page.main += ["Tally", "Paradigm | Imperative", "First appeared | 2009", "Typing discipline | Dynamic"]
    page.raw(
        "<p><b>Tally</b> is a calculator language for bookkeeping that keeps running totals in named accounts."
        '<sup id="cite_ref-1" class="reference"><a href="#cite_note-1">&#91;1&#93;</a></sup></p>\n'
    )
    page.main.append("Tally is a calculator language for bookkeeping that keeps running totals in named accounts.[1]")
    page.nav(
        '<div id="toc" class="toc" role="navigation" aria-labelledby="mw-toc-heading">'
        '<input type="checkbox" role="button" id="toctogglecheckbox" class="toctogglecheckbox" style="display:none" />'
        '<div class="toctitle" lang="en" dir="ltr"><h2 id="mw-toc-heading">Contents</h2></div>\n<ul>\n'
        '<li class="toclevel-1 tocsection-1"><a href="#History"><span class="tocnumber">1</span> '
        '<span class="toctext">History</span></a></li>\n'
        '<li class="toclevel-1 tocsection-2"><a href="#Syntax"><span class="tocnumber">2</span> '
        '<span class="toctext">Syntax</span></a></li>\n'
        '<li class="toclevel-1 tocsection-3"><a href="#References"><span class="tocnumber">3</span> '
        '<span class="toctext">References</span></a></li>\n</ul>\n</div>\n',
        "Contents",
        "1 History",
        "2 Syntax",
        "3 References",
    )

    def section(title: str, number: int) -> None:
        page.raw(
            f'<h2><span class="mw-headline" id="{title}">{title}</span><span class="mw-editsection">'
            '<span class="mw-editsection-bracket">[</span>'
            f'<a href="/w/index.php?title=Tally&amp;action=edit&amp;section={number}" title="Edit section: {title}">'
            'edit</a><span class="mw-editsection-bracket">]</span></span></h2>\n'
        )
        page.main.append(title)
        page.headings.append((2, title))
        page.boilerplate.append("[edit]")

    section("History", 1)
    page.para(
        "Tally was written in 2009 for a village shop whose owner wanted the day's takings totalled by kind of goods."
    )
    section("Syntax", 2)
    page.para("A statement names an account and adds a figure to it:")
    page.pre(["bread += 2.40", "stamps += 0.85"])
    section("References", 3)
    page.raw(
        '<div class="reflist"><ol class="references">\n<li id="cite_note-1"><span class="mw-cite-backlink"><b>'
        '<a href="#cite_ref-1">^</a></b></span> <span class="reference-text">Smith, J. (2010). <i>Bookkeeping with '
        "Tally</i>. Village Press. p. 12.</span></li>\n</ol></div>\n"
    )
    page.main.append("Smith, J. (2010). Bookkeeping with Tally. Village Press. p. 12.")
    page.nav(
        '<div role="navigation" class="navbox" aria-labelledby="Programming_languages">'
        '<table class="nowraplinks hlist navbox-inner"><tbody><tr><th scope="col" class="navbox-title" colspan="2">'
        '<div id="Programming_languages">Programming languages</div></th></tr>\n'
        '<tr><td class="navbox-list"><div><ul><li><a href="/wiki/Ada">Ada</a></li><li><a href="/wiki/ALGOL">ALGOL'
        '</a></li><li><a href="/wiki/APL">APL</a></li><li><a href="/wiki/COBOL">COBOL</a></li></ul></div></td></tr>'
        "</tbody></table></div>\n",
        "Programming languages",
        "ALGOL",
        "COBOL",
    )
    page.raw("</div></div>\n")
    page.nav(
        '<div class="printfooter" data-nosnippet="">Retrieved from "<a dir="ltr" '
        'href="https://wiki.example.org/w/index.php?title=Tally_(language)&amp;oldid=1210">'
        'https://wiki.example.org/w/index.php?title=Tally_(language)&amp;oldid=1210</a>"</div>\n'
        '<div id="catlinks" class="catlinks" data-mw="interface"><div id="mw-normal-catlinks" class="mw-normal-catlinks">'
        '<a href="/wiki/Help:Category" title="Help:Category">Categories</a>: <ul><li>'
        '<a href="/wiki/Category:Calculator_languages">Calculator languages</a></li><li>'
        '<a href="/wiki/Category:Programming_languages_created_in_2009">Programming languages created in 2009</a>'
        "</li></ul></div></div>\n",
        "Retrieved from",
        "Categories:",
        "Calculator languages",
    )
    page.raw("</div>\n</div>\n")
    page.nav(
        '<div id="mw-navigation"><h2>Navigation menu</h2>\n<div id="mw-head"><nav id="p-personal" class="vector-menu" '
        'aria-labelledby="p-personal-label" role="navigation"><ul><li><a href="/login">Log in</a></li></ul></nav></div>\n'
        '<div id="mw-panel"><nav id="p-navigation" class="vector-menu" role="navigation"><ul><li><a href="/">Main page'
        '</a></li><li><a href="/random">Random article</a></li></ul></nav></div></div>\n',
        "Navigation menu",
        "Log in",
        "Random article",
    )
    page.nav(
        '<footer id="footer" class="mw-footer" role="contentinfo"><ul id="footer-info"><li id="footer-info-lastmod">'
        " This page was last edited on 3 March 2024, at 10:12&#160;(UTC).</li>\n"
        '<li id="footer-info-copyright">Text is available under the <a href="/license">Creative Commons '
        "Attribution-ShareAlike License 4.0</a>; additional terms may apply.</li></ul>\n"
        '<ul id="footer-places"><li><a href="/privacy">Privacy policy</a></li><li><a href="/about">About the wiki</a>'
        "</li></ul></footer>\n",
        "This page was last edited on",
        "Text is available under the",
        "Privacy policy",
    )
    page.raw("</body>\n</html>\n")
    return page.manual("wiki article (held out)")


def manuals() -> list[Manual]:
    return [texinfo7_node(), texinfo6_manual(), product_guide(), wiki_article()]
