"""Text decoding for the text formats: BOMs, declared charsets, UTF-8, charset guessing, Windows-1252 fallback."""

from __future__ import annotations

import codecs
import re

from vecflow.pipeline.parse.model import UNDECODABLE_TEXT, ParseError

SAMPLE = 64 * 1024  # bytes used to guess an encoding


def charset_param(content_type: str) -> str | None:
    match = re.search(r";\s*charset\s*=\s*[\"']?([\w.:-]+)", content_type, re.IGNORECASE)
    return match.group(1) if match else None


BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Encodings charset-normalizer proposes for Latin-script text. For short texts it often picks an
# exotic member of this family (cp850 for French, cp1250 for German); Windows-1252 is by far the
# most common of them, so it wins unless the bytes are not valid Windows-1252.
_LATIN_FAMILY = frozenset(
    {
        "ascii",
        "latin_1",
        "iso8859_2",
        "iso8859_3",
        "iso8859_4",
        "iso8859_9",
        "iso8859_10",
        "iso8859_13",
        "iso8859_14",
        "iso8859_15",
        "iso8859_16",
        "cp1250",
        "cp1252",
        "cp1254",
        "cp1257",
        "cp1258",
        "cp437",
        "cp775",
        "cp850",
        "cp852",
        "cp858",
        "cp860",
        "cp861",
        "cp863",
        "cp865",
        "mac_roman",
        "mac_latin2",
        "mac_iceland",
        "mac_turkish",
        "hp_roman8",
    }
)
_BINARY_CONTROLS = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")
WEB_LATIN1 = frozenset({"latin_1", "iso8859_1", "ascii", "us_ascii", "cp1252", "windows_1252"})


def _latin1_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: bytes Windows-1252 leaves undefined (0x81, 0x8D...) decode as Latin-1."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start : exc.end].decode("latin-1"), exc.end


codecs.register_error("vecflow-latin1", _latin1_fallback)


def _decode_windows_1252(data: bytes) -> str:
    return data.decode("cp1252", errors="vecflow-latin1")


def codec_name(label: str | None) -> str | None:
    if not label:
        return None
    try:
        return codecs.lookup(label.strip().strip("\"'")).name.replace("-", "_")
    except LookupError:
        return None


def _undecodable(what: str) -> ParseError:
    return ParseError(
        UNDECODABLE_TEXT,
        f"The {what} is not text in any common encoding (it looks like binary data). "
        "Check that the right file was uploaded, or save it as UTF-8 text.",
    )


def _decode_bom(data: bytes) -> str | None:
    for bom, encoding in BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    return None


def _utf16_without_bom(sample: bytes) -> str | None:
    sample = sample[: len(sample) - len(sample) % 2]
    if len(sample) < 16:
        return None
    half = len(sample) / 2
    even_zeros, odd_zeros = sample[0::2].count(0) / half, sample[1::2].count(0) / half
    if odd_zeros > 0.3 and even_zeros < 0.05:
        return "utf-16-le"
    if even_zeros > 0.3 and odd_zeros < 0.05:
        return "utf-16-be"
    return None


def guess_encoding(sample: bytes, what: str) -> str:
    """The encoding of text that is not UTF-8, judged on `sample`; raises UNDECODABLE_TEXT for binary data."""
    if b"\x00" in sample:
        encoding = _utf16_without_bom(sample)
        if encoding is None:
            raise _undecodable(what)
        return encoding
    if len(_BINARY_CONTROLS.findall(sample)) > max(2, len(sample) // 200):
        raise _undecodable(what)
    import charset_normalizer

    best = charset_normalizer.from_bytes(sample).best()
    if best is None:
        raise _undecodable(what)
    encoding = codec_name(best.encoding) or "cp1252"
    if encoding in _LATIN_FAMILY:
        return "cp1252"
    return encoding


def _decode(data: bytes, encoding: str) -> str:
    if encoding == "cp1252":
        return _decode_windows_1252(data)
    return data.decode(encoding, errors="replace")


def decode_text(data: bytes, declared: str | None, what: str) -> str:
    """Bytes to text: BOM, then a declared charset, then UTF-8, then detection."""
    text = _decode_bom(data)
    if text is not None:
        return text
    declared_codec = codec_name(declared)
    if declared_codec:
        if declared_codec in WEB_LATIN1:
            return _decode_windows_1252(data)
        try:
            return data.decode(declared_codec)
        except UnicodeDecodeError:
            pass  # the declaration is wrong; detect instead
    if b"\x00" not in data[:SAMPLE]:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return _decode(data, guess_encoding(sample(data), what))


def sample(data: bytes) -> bytes:
    sample = data[:SAMPLE]
    if len(data) > SAMPLE:
        cut = sample.rfind(b"\n")
        if cut > SAMPLE // 2:
            sample = sample[: cut + 1]
    return sample
