"""HTML navigation and boilerplate inside a page's main region, found by names and by link density.

Pages that mark their navigation (<nav>, role="navigation", <aside>…) lose it in web.py already. Many do not:
a texinfo manual puts "Next: …, Previous: …, Up: … [Contents][Index]" in a <div class="nav-panel"> (7.x) or
<div class="header"> (6.x) before every node, CMS themes build cookie banners, breadcrumbs, sidebars and
footers from plain <div>s. An element is dropped as navigation when

- its class (or its id, unless it holds a heading) names navigation (`_STRONG`: "breadcrumbs", "cookie-consent", "sidebar", "nav-panel",
  "menu", "toc", "footer", MediaWiki's "mw-jump-link", "printfooter", anything marked "noprint" …) and it holds
  less than half of the region's text;
- its class or id names a page header or banner (`_WEAK`) and it has no heading of its own or is link-dense;
- it is a block made mostly of link text: at least 3 links and 70% of its letters and digits inside them, or
  2 links and 85% (a table of contents, a "Next/Previous" bar, a list of related pages);
- it is a texinfo index (``index-cp``, ``*-printindex``) or its "Jump to:" letter bar.

A heading left introducing nothing (the "Table of Contents" over a dropped list) and a section left holding
nothing but its heading go with it. If the rules would leave less than a fifth of the
region's text, the page is a list of links by design (a site map, an index page) and only named navigation
is dropped. The figures that chose these rules are in bench/html_content.py and bench/README.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_STRONG = frozenset(
    "breadcrumb breadcrumbs crumbs cookie cookies consent gdpr sidebar sphinxsidebar navbar navigation nav navpanel "
    "skip skiplink share sharing social newsletter subscribe pagination pager paging related menu menubar toc "
    "feedback helpful rating edit editsection footer masthead topbar navbox advert advertisement sponsored "
    "popup modal printindex jump sitenotice printfooter noprint no-print print-none d-print-none hidden-print".split()
)
_WEAK = frozenset({"header", "banner"})
_LINK_BLOCKS = frozenset(
    "ul ol dl menu table tbody tr td th div p section center blockquote details form fieldset".split()
)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_TEXINFO_INDEX = re.compile(r"^(index-[a-z]{2}|[a-z]{2}-(entries|letters-header|letters-footer)-printindex)$")
_NAME_SPLIT = re.compile(r"[\s\-_:./]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_NOT_WORD = re.compile(r"[\W_]+")
_MIN_KEPT = 0.2  # below this share of the region's text, the link-density rules are not applied


@dataclass
class _Stats:
    chars: int = 0  # letters and digits in the subtree
    link_chars: int = 0  # of which inside <a href>
    links: int = 0
    headings: int = 0

    @property
    def link_density(self) -> float:
        return self.link_chars / self.chars if self.chars else 0.0


def _word_chars(text: str) -> int:
    return len(_NOT_WORD.sub("", text))


def _measure(root: Any) -> dict[int, _Stats]:
    """Stats of every element under `root` (and root), keyed by id(), in one pass over the tree."""
    from bs4 import CData, NavigableString, Tag

    order: list[Any] = []
    stack = [root]
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(child for child in node.contents if isinstance(child, Tag))
    stats: dict[int, _Stats] = {}
    for node in reversed(order):  # every element after all of its descendants
        total = _Stats()
        for child in node.contents:
            if isinstance(child, Tag):
                sub = stats[id(child)]
                total.chars += sub.chars
                total.link_chars += sub.link_chars
                total.links += sub.links
                total.headings += sub.headings
            elif isinstance(child, NavigableString) and type(child) in (NavigableString, CData):
                total.chars += _word_chars(str(child))
        if node.name == "a" and node.has_attr("href"):
            total.links += 1
            total.link_chars = total.chars
        elif node.name in _HEADINGS:
            total.headings += 1
        stats[id(node)] = total
    return stats


def _names(tag: Any, st: _Stats) -> set[str]:
    """The words of an element's class, and of its id unless it holds a heading (ids are often made from
    headings: a section "Related work"): "site-footer navBar" -> {site-footer, site, footer, navbar, nav, bar}."""
    values = list(tag.get("class") or [])
    if isinstance(tag.get("id"), str) and not st.headings:
        values.append(tag["id"])
    words: set[str] = set()
    for value in values:
        words.add(str(value).lower())
        for token in _NAME_SPLIT.split(str(value)):
            if not token:
                continue
            words.add(token.lower())
            words.update(part.lower() for part in _CAMEL.split(token))
    return words


def _letter_bar(tag: Any) -> bool:
    return tag.name == "table" and tag.find("a", class_="summary-letter") is not None


def _verdict(tag: Any, st: _Stats, total: int, density_rules: bool) -> bool:
    names = _names(tag, st) if "class" in tag.attrs or "id" in tag.attrs else None
    if names:
        if any(_TEXINFO_INDEX.match(name) for name in names):
            return True
        if names & _STRONG and st.chars < total / 2:
            return True
        if names & _WEAK and st.chars < total / 2 and (not st.headings or st.link_density >= 0.5):
            return True
    if not density_rules or tag.name not in _LINK_BLOCKS:
        return False
    if _letter_bar(tag):
        return True
    return (st.links >= 3 and st.link_density >= 0.7) or (st.links == 2 and st.link_density >= 0.85)


def _navigation(root: Any, stats: dict[int, _Stats], density_rules: bool) -> list[Any]:
    """The outermost elements under `root` that are navigation, in document order."""
    from bs4 import Tag

    total = stats[id(root)].chars
    found: list[Any] = []
    stack = [child for child in reversed(root.contents) if isinstance(child, Tag)]
    while stack:
        tag = stack.pop()
        st = stats[id(tag)]
        if st.chars == 0:
            continue  # nothing to read either way (images, empty anchors, <hr>)
        if _verdict(tag, st, total, density_rules):
            found.append(tag)
            continue
        stack.extend(child for child in reversed(tag.contents) if isinstance(child, Tag))
    return found


def _only_headings(tag: Any) -> bool:
    from bs4 import NavigableString, Tag

    seen = False
    for child in tag.contents:
        if isinstance(child, Tag):
            if child.name in _HEADINGS:
                seen = True
            elif child.get_text(strip=True):
                return False
        elif isinstance(child, NavigableString) and str(child).strip():
            return False
    return seen


def _orphan_headings(found: list[Any], stats: dict[int, _Stats]) -> list[Any]:
    """Headings that only introduced navigation: right before a dropped element, with no text after it
    before the next heading ("Table of Contents" over the contents list)."""
    from bs4 import Tag

    dropped = {id(tag) for tag in found}

    def neighbour(tag: Any, forward: bool) -> Any:
        sibling = tag.next_sibling if forward else tag.previous_sibling
        while sibling is not None:
            if isinstance(sibling, Tag):
                if stats[id(sibling)].chars and not (forward and id(sibling) in dropped):
                    return sibling
            elif str(sibling).strip():
                return sibling
            sibling = sibling.next_sibling if forward else sibling.previous_sibling
        return None

    orphans = []
    for tag in found:
        before = neighbour(tag, forward=False)
        if isinstance(before, Tag) and before.name in _HEADINGS and id(before) not in dropped:
            after = neighbour(tag, forward=True)
            if after is None or (isinstance(after, Tag) and after.name in _HEADINGS):
                orphans.append(before)
    return orphans


def drop_navigation(root: Any) -> None:
    """Remove navigation and boilerplate under `root` (see the module docstring)."""
    stats = _measure(root)
    total = stats[id(root)].chars
    found = _navigation(root, stats, density_rules=True)
    if total and total - sum(stats[id(tag)].chars for tag in found) < _MIN_KEPT * total:
        found = _navigation(root, stats, density_rules=False)
    found += _orphan_headings(found, stats)
    parents = []
    for tag in found:
        if tag.decomposed:
            continue
        parent = tag.parent
        tag.decompose()
        if parent is not None and parent is not root and parent.name in ("section", "div", "article"):
            parents.append(parent)
    for parent in parents:
        if not parent.decomposed and _only_headings(parent):
            parent.decompose()
