"""The docs' generated tables match the code: every setting the server reads is documented, every error reason
the server's code can answer with is in the registry, and docs/ shows both as they are."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

from vecflow import config, errors, reasons
from vecflow.services.documents import FETCH_STATUS

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "server" / "vecflow"


def test_every_setting_read_is_documented_and_nothing_else() -> None:
    read = set(re.findall(r'"(VECFLOW_[A-Z0-9_]+)"', inspect.getsource(config.Settings.from_env)))
    documented = {name for names, _, _ in config.SETTINGS_DOCS for name in names}
    assert read - documented == set(), "read but not documented in config.SETTINGS_DOCS"
    assert documented - read == set(), "documented but never read"


def test_every_reason_the_code_raises_is_registered() -> None:
    raised: set[str] = set()
    for path in SERVER.rglob("*.py"):
        if "v1" in path.relative_to(SERVER).parts:
            continue  # generated stubs
        raised |= set(re.findall(r'reason="([A-Z][A-Z0-9_]+)"', path.read_text()))
    raised |= set(FETCH_STATUS)
    raised |= {
        cls.reason for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.VecflowError)
    }
    raised -= {"ERROR"}  # VecflowError itself is never raised
    known = set(reasons.REASONS) | reasons.INTERNAL
    assert raised - known == set(), "add these to vecflow/reasons.py (with their code and meaning)"
    stale = set(reasons.REASONS) - raised - {"<KIND>_NOT_FOUND"}
    assert stale == set(), "registered but never raised"


def test_generated_tables_are_current() -> None:
    check = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_docs.py"), "--check"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
