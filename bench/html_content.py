"""HTML main content: navigation and boilerplate left in the chunks, and main-content lines lost, per extractor.

Extractors, each given the same decoded page (vecflow's charset handling):

- before: vecflow's HTML parser at `--before` (git rev; tag rules: <nav>, <header>, <footer>, <aside>, roles);
- vecflow: the parser in this checkout (web.py + web_navigation.py);
- trafilatura: `trafilatura.extract` (its text output, tables included), as a library user gets it;
- trafilatura+render / readability+render: the main content each library picks, as HTML, rendered by the
  `before` parser (its line breaks, tables and code blocks).

Pages: the HTML files of ../shared/data/docs and three generated manuals (tests/helpers/html_manuals.py: a
texinfo 7 node page, a texinfo 6 whole manual, a CMS product guide). For a generated manual the generator lists
its main lines and boilerplate; for a shared page, the boilerplate lines are listed below and its main lines
are the `before` output's other lines (so `before` loses none there by construction).

"left": boilerplate lines still in the text (a line's phrase found more often than the main lines hold it);
"chunks": chunks (256 tokens, 64 overlap, the model's tokenizer) holding boilerplate found nowhere in the main
lines; "lost": main lines not found in the text (whitespace and list marks ignored).

    ../.venv/bin/python html_content.py [--before ac985a3] [--show NAME]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "server"), str(ROOT / "tests")]

from helpers.html_manuals import manuals  # noqa: E402
from vecflow.pipeline.chunk import chunk_text  # noqa: E402
from vecflow.pipeline.embed.loading import load_tokenizer  # noqa: E402
from vecflow.pipeline.parse import web  # noqa: E402
from vecflow.pipeline.parse.encoding import decode_text  # noqa: E402
from vecflow.pipeline.parse.model import ParseLimits  # noqa: E402

DOCS = ROOT.parent / "shared" / "data" / "docs"

# Navigation and boilerplate of the shared pages, line by line as a reader sees it (their sidebars, menus,
# footers and tables of contents); everything else the `before` parser kept is main content.
SHARED_BOILERPLATE: dict[str, list[str]] = {
    "debian_python-policy.html": [
        "Navigation",
        "Debian Python Policy 0.12.0.0 documentation",
        "Debian Python Policy 0.12.0.0 documentation",
        "Table of Contents",
        "This Page",
        "Show Source",
        "Quick search",
        "Created using",
        "Indices and tables",
        "Index",
        "Module Index",
        "Search Page",
    ],
    "debian_nodejs-api-events.html": [
        "Node.js v20.20.2 documentation",
        "Table of contents",
        "Other versions",
        "Options",
        "View on single page",
        "View as JSON",
        "Edit on GitHub",
        "About this documentation",
        "Usage and example",
        "Assertion testing",
        "Asynchronous context tracking",
        "Async hooks",
        "C++ addons",
        "Child processes",
        "Deprecated APIs",
        "Diagnostics Channel",
        "Internationalization",
        "Query strings",
        "Single executable applications",
    ],
    "debian_libxslt-news_iso-8859-1.html": [
        "Main Menu",
        "Home",
        "Introduction",
        "Documentation",
        "Reporting bugs and getting help",
        "How to help",
        "Downloads",
        "FAQ",
        "The xsltproc tool",
        "DocBook",
        "The programming API",
        "Python and bindings",
        "Library internals",
        "Writing extensions",
        "Contributions",
        "libexslt",
        "flat page, stylesheet",
        "API Menu",
        "ChangeLog",
        "Related links",
        "Tutorial, Tutorial2",
        "Man page for xsltproc",
        "Mail archive",
        "XML libxml2",
        "FTP",
        "Windows binaries",
        "Solaris binaries",
        "MacOsX binaries",
        "Bug Tracker",
        "lxml Python bindings",
        "Perl XSLT bindings",
        "XSLT with PHP",
        "Apache module",
        "Pascal bindings",
        "Xsldbg Debugger",
        "API Indexes",
        "Alphabetic",
        "Constructors",
        "Functions/Types",
        "Modules",
        "Symbols",
    ],
    "debian_base-passwd-users-and-groups.html": ["Table of Contents", "1. Introduction", "2. Users and Groups"],
    "tika_testHTML_charset_utf16le.html": [],
}

_SPACE = re.compile(r"\s+")
_MARKS = re.compile(r"(?m)^\s*(?:[-*•]|\d+\.)\s+|¶|(?<=\w)#(?=\s|$)")


def norm(text: str) -> str:
    """Whitespace collapsed, list bullets and permalink marks (¶, a trailing #) removed."""
    return _SPACE.sub(" ", _MARKS.sub(" ", text.replace("\xa0", " "))).strip()


def occurrences(haystack: str, phrase: str) -> int:
    return len(re.findall(r"(?<!\w)" + re.escape(norm(phrase)) + r"(?!\w)", haystack))


@dataclass
class Page:
    name: str
    path: Path
    main: list[str]
    boilerplate: list[str]


@dataclass
class Score:
    left: int
    polluted: int
    chunks: int
    lost: int
    ms: float
    lost_lines: list[str]
    left_phrases: list[str]


def load_before(rev: str) -> Any:
    """vecflow's web.py as it was at `rev`, as a module."""
    source = subprocess.run(
        ["git", "show", f"{rev}:server/vecflow/pipeline/parse/web.py"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "web_before.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("web_before", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def decoded(path: Path) -> str:
    data = path.read_bytes()
    return decode_text(data, web._html_encoding(data, None), "HTML file")


def extractors(before: Any, tmp: Path) -> dict[str, Callable[[Path], str]]:
    limits = ParseLimits()

    def render(html: str) -> str:
        page = tmp / "picked.html"
        page.write_text(f"<html><head><meta charset='utf-8'></head><body>{html}</body></html>", encoding="utf-8")
        try:
            return str(before.parse_html(page, "utf-8", limits).text)
        except Exception:  # nothing picked (EMPTY_FILE)
            return ""

    runners: dict[str, Callable[[Path], str]] = {
        "before": lambda path: str(before.parse_html(path, None, limits).text),
        "vecflow": lambda path: web.parse_html(path, None, limits).text,
    }
    try:
        import trafilatura

        runners["trafilatura"] = lambda path: trafilatura.extract(decoded(path), include_tables=True) or ""
        runners["trafilatura+render"] = lambda path: render(
            trafilatura.extract(decoded(path), include_tables=True, output_format="html") or ""
        )
    except ImportError:
        print("(trafilatura is not installed: pip install trafilatura==2.3.1)")
    try:
        from readability import Document

        runners["readability+render"] = lambda path: render(Document(decoded(path)).summary(html_partial=True))
    except ImportError:
        print("(readability-lxml is not installed: pip install readability-lxml==0.9)")
    return runners


def pages(before: Any, tmp: Path) -> list[Page]:
    found: list[Page] = []
    manifest = DOCS / "MANIFEST.json"
    if manifest.exists():
        for entry in json.loads(manifest.read_text()):
            if entry["type"] != "html":
                continue
            path = DOCS / entry["file"]
            listed = SHARED_BOILERPLATE.get(entry["file"], [])
            skip = {norm(line) for line in listed}
            text = before.parse_html(path, None, ParseLimits()).text
            main = [line for line in text.splitlines() if norm(line) and norm(line) not in skip]
            found.append(Page(entry["file"], path, main, listed))
    else:
        print(f"(shared documents not found at {DOCS}: generated manuals only)")
    for manual in manuals():
        path = tmp / (re.sub(r"\W+", "-", manual.name) + ".html")
        path.write_text(manual.html, encoding="utf-8")
        found.append(Page(manual.name, path, manual.main, manual.boilerplate))
    return found


def score(page: Page, text: str, seconds: float, tokenizer: Any) -> Score:
    flat = norm(text)
    main_flat = norm("\n".join(page.main))
    left_phrases: list[str] = []
    listed: dict[str, int] = {}
    for phrase in page.boilerplate:
        listed[phrase] = listed.get(phrase, 0) + 1
    for phrase, times in listed.items():
        extra = occurrences(flat, phrase) - occurrences(main_flat, phrase)
        left_phrases += [phrase] * max(0, min(times, extra))
    foreign = [p for p in listed if occurrences(main_flat, p) == 0]
    chunks = chunk_text(text, tokenizer, 256, 64) if text.strip() else []
    polluted = sum(1 for c in chunks if any(occurrences(norm(c.text), p) for p in foreign))
    lost_lines = [line for line in page.main if norm(line) not in flat]
    return Score(len(left_phrases), polluted, len(chunks), len(lost_lines), seconds * 1000, lost_lines, left_phrases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="ac985a3", help="git rev of the baseline web.py (default: %(default)s)")
    parser.add_argument("--show", default="", help="print the lost lines and left phrases of pages matching this")
    args = parser.parse_args()
    tokenizer = load_tokenizer("")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        before = load_before(args.before)
        runners = extractors(before, tmp)
        docs = pages(before, tmp)
        totals = {name: [0, 0, 0, 0, 0.0] for name in runners}
        print(f"{'page':44} {'extractor':20} {'left':>9} {'chunks':>9} {'lost':>9} {'ms':>7}")
        for page in docs:
            for name, run in runners.items():
                run(page.path)  # warm (imports, caches)
                started = time.perf_counter()
                text = run(page.path)
                result = score(page, text, time.perf_counter() - started, tokenizer)
                total = totals[name]
                total[0] += result.left
                total[1] += result.polluted
                total[2] += result.chunks
                total[3] += result.lost
                total[4] += result.ms
                print(
                    f"{page.name[:44]:44} {name:20} {result.left:>4}/{len(page.boilerplate):<4} "
                    f"{result.polluted:>4}/{result.chunks:<4} {result.lost:>4}/{len(page.main):<4} {result.ms:7.0f}"
                )
                if args.show and args.show in page.name:
                    print("      lost:", result.lost_lines[:25])
                    print("      left:", result.left_phrases[:25])
            print()
        boiler = sum(len(p.boilerplate) for p in docs)
        lines = sum(len(p.main) for p in docs)
        print(f"{'all pages':44} {'extractor':20} {'left':>9} {'chunks':>9} {'lost':>9} {'ms':>7}")
        for name, (left, polluted, chunks, lost, ms) in totals.items():
            print(f"{'':44} {name:20} {left:>4}/{boiler:<4} {polluted:>4}/{chunks:<4} {lost:>4}/{lines:<4} {ms:7.0f}")
        issue = "Variables, Previous: Command Line Options, Up: Basic Elements [Contents]"
        texinfo = next(p for p in docs if p.name.startswith("texinfo 7"))
        for name, run in runners.items():
            chunks = chunk_text(run(texinfo.path), tokenizer, 256, 64)
            hit = any(issue in norm(c.text) for c in chunks)
            print(f"issue #16's texinfo line in a chunk ({name}): {'yes' if hit else 'no'}")


if __name__ == "__main__":
    main()
