"""Write the generated tables into the docs: settings (docs/configuration.md) and error reasons (docs/api.md).

.venv/bin/python scripts/gen_docs.py           # rewrite the tables between their markers
.venv/bin/python scripts/gen_docs.py --check   # what CI runs: fail when the docs drift from the code
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))

from vecflow import config, reasons  # noqa: E402

TABLES = [
    (ROOT / "docs" / "configuration.md", config.SETTINGS_START, config.SETTINGS_END, config.settings_table),
    (ROOT / "docs" / "api.md", reasons.START, reasons.END, reasons.table),
]


def rendered(text: str, start: str, end: str, table: str) -> str:
    """`text` with the part between the markers replaced by `table`."""
    before, found, rest = text.partition(start)
    if not found or end not in rest:
        raise SystemExit(f"the markers {start!r} … {end!r} are missing")
    _, _, after = rest.partition(end)
    return f"{before}{start}\n{table}\n{end}{after}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail instead of writing when a table is out of date")
    check = parser.parse_args().check
    stale = []
    for path, start, end, make in TABLES:
        text = path.read_text()
        new = rendered(text, start, end, make())
        if new != text:
            stale.append(path.relative_to(ROOT))
            if not check:
                path.write_text(new)
    if check and stale:
        print(f"out of date: {', '.join(map(str, stale))}; run scripts/gen_docs.py", file=sys.stderr)
        return 1
    print("docs match the code" if check else f"wrote {len(stale)} file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
