"""Decoding email text in whatever charset it claims, without ever failing.

Mail declares charsets loosely: Korean mail says ``euc-kr`` or
``ks_c_5601-1987`` but is really written in cp949 (its superset), ``us-ascii``
parts carry 8-bit bytes, ``gb2312`` is really GBK, and some labels are plain
wrong. :func:`decode_bytes` maps labels to the codec that actually decodes
them, falls back through UTF-8 and Windows-1252, and never raises: a bad byte
becomes U+FFFD, the rest of the text survives.
"""

from __future__ import annotations

import codecs
from email.header import decode_header

SUPERSETS: dict[str, str] = {
    "euc-kr": "cp949",
    "euc_kr": "cp949",
    "euckr": "cp949",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "ks_c_5601_1987": "cp949",
    "ksc5601": "cp949",
    "ksc_5601": "cp949",
    "korean": "cp949",
    "windows-949": "cp949",
    "x-windows-949": "cp949",
    "unified-hangul-code": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "iso-2022-jp": "iso2022_jp_ext",
    "csiso2022jp": "iso2022_jp_ext",
    "big5": "big5hkscs",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso-8859-8-i": "iso-8859-8",
    "x-unknown": "utf-8",
    "unknown-8bit": "utf-8",
    "default": "utf-8",
    "utf8": "utf-8",
}
"""Declared label -> codec that decodes what senders really write under it."""

ASCII_LABELS = frozenset({"us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "7bit"})


def codec_for(label: str | None) -> str | None:
    """The Python codec for a declared charset label, or None when it is unknown."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = SUPERSETS.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_bytes(data: bytes, label: str | None = None) -> str:
    """Decode ``data`` declared as ``label``; never raises, never drops the whole text."""
    declared = (label or "").strip().strip("\"'").lower()
    if declared in ASCII_LABELS or not declared:
        # 8-bit bytes under an ASCII (or no) label: most likely UTF-8, else Windows-1252.
        candidates = ["utf-8", "cp1252"]
    else:
        codec = codec_for(declared)
        candidates = [codec] if codec else []
        candidates += ["utf-8", "cp1252"]
    for codec in candidates:
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode(candidates[0] if candidates else "utf-8", errors="replace")


def decode_header_value(value: object) -> str:
    """A header value with RFC 2047 encoded words decoded, folding whitespace collapsed."""
    if value is None:
        return ""
    raw = str(value)
    try:
        chunks = decode_header(raw)
    except Exception:  # malformed encoded words: keep the raw header text
        return " ".join(raw.split())
    parts: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            parts.append(decode_bytes(chunk, charset))
        else:
            parts.append(chunk)
    return " ".join("".join(parts).split())
