"""ZIP-based formats (DOCX, PPTX, XLSX, EPUB, ODT): the checks every package gets before a library reads it.

`open_package` tells an encrypted or legacy Office file (an OLE compound file, not a ZIP) from a damaged one,
then unpacks every member once in small reads, counting the bytes that really come out (headers can lie) and
checking each CRC, so that a bomb ends in DOCUMENT_TOO_LARGE before a library inflates it whole.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

from vecflow.pipeline.parse.model import (
    CORRUPT_FILE,
    ENCRYPTED_DOCUMENT,
    UNSUPPORTED_TYPE,
    ParseError,
    ParseLimits,
    too_large,
)

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_READ = 1 << 20  # bytes a member is read by when its real size is measured
# What a damaged ZIP (or a damaged part inside one) makes zipfile and the XML libraries raise.
ZIP_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    ValueError,
    EOFError,
    KeyError,
    zlib.error,
    NotImplementedError,
)


def corrupt(kind: str, detail: str, app: str) -> ParseError:
    """CORRUPT_FILE for a `kind` document ("PPTX"), naming the program (`app`) that can repair it."""
    return ParseError(
        CORRUPT_FILE,
        f"The {kind} file is damaged or truncated ({detail}). Open it in {app}, save it again, and upload "
        "the new copy.",
    )


def ole_contains(path: Path, *names: str) -> bool:
    """Whether an OLE compound file names one of these streams (UTF-16 names in its directory sectors)."""
    needles = [name.encode("utf-16-le") for name in names]
    overlap = max(len(n) for n in needles)
    tail = b""
    with path.open("rb") as fp:
        while chunk := fp.read(1 << 20):
            window = tail + chunk
            if any(needle in window for needle in needles):
                return True
            tail = window[-overlap:]
    return False


def refuse_ole(path: Path, kind: str, *, unlock: str, legacy: str) -> None:
    """Refuse an OLE file where a `kind` ("PPTX") OOXML package belongs: ENCRYPTED_DOCUMENT when it is
    password-protected (Office keeps the encrypted package in one; `unlock` says where to remove the
    password), else UNSUPPORTED_TYPE for the legacy binary format (`legacy` names it)."""
    with path.open("rb") as fp:
        if fp.read(8) != OLE_MAGIC:
            return
    if ole_contains(path, "EncryptedPackage", "EncryptionInfo"):
        raise ParseError(
            ENCRYPTED_DOCUMENT,
            f"The {kind} file is password-protected. Open it, remove the password ({unlock}), save it, and "
            "upload it again.",
        )
    raise ParseError(
        UNSUPPORTED_TYPE,
        f"The file is {legacy} or another OLE document, not {kind}. Save it as .{kind.lower()} and upload it again.",
    )


def measure(archive: zipfile.ZipFile, limit: int, kind: str) -> None:
    """Unpack every member of `archive` in small reads: DOCUMENT_TOO_LARGE once more than `limit` bytes come
    out; zipfile's CRC check raises BadZipFile for a member whose data does not match its header."""
    total = 0
    for info in archive.infolist():
        if info.file_size > limit:  # declared over the limit: no need to read it
            raise too_large(f"{kind} package", limit, "bytes unpacked", "VECFLOW_PARSE_MAX_EXPANDED_BYTES")
        with archive.open(info) as member:
            while chunk := member.read(_ZIP_READ):
                total += len(chunk)
                if total > limit:
                    raise too_large(f"{kind} package", limit, "bytes unpacked", "VECFLOW_PARSE_MAX_EXPANDED_BYTES")


def open_package(path: Path, kind: str, app: str, limits: ParseLimits) -> set[str]:
    """Check the ZIP package at `path` (a `kind` such as "PPTX" that `app` writes) and return its
    member names: CORRUPT_FILE when it is not a readable ZIP, DOCUMENT_TOO_LARGE when it unpacks past
    `limits.max_expanded_bytes`. Call `refuse_ole` first for OOXML formats."""
    if not zipfile.is_zipfile(path):
        raise corrupt(kind, "it is not a readable ZIP package", app)
    try:
        with zipfile.ZipFile(path) as archive:
            measure(archive, limits.max_expanded_bytes, kind)
            return set(archive.namelist())
    except ParseError:
        raise
    except ZIP_ERRORS as exc:
        raise corrupt(kind, f"the ZIP package cannot be read: {exc}", app) from exc
