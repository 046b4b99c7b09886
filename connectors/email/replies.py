"""Splitting a customer's reply from the quoted history and the signature.

:func:`split_reply` returns three views of one plain-text body:

- ``reply``: the text with quoted history removed (signature kept), which is
  what talon's ``extract_from_plain`` returns;
- ``visible``: ``reply`` without the signature, what an agent needs to read,
  like email_reply_parser's ``parse_reply``;
- ``full``: the whole body, kept so nothing the customer sent is lost.

Quoted history is recognized by ``>`` lines, by quote headers in several
languages ("On ... wrote:", "Le ... a écrit :", "Am ... schrieb ...:",
possibly wrapped over up to three lines, and even still quoted-printable
encoded), by Outlook header blocks (``From:`` followed by ``Sent:``/``To:``),
and by "Original Message" and underscore separators. A separator cuts
everything below it; a quote header and ``>`` lines are removed wherever they
are, so a reply written below the quote (Thunderbird) survives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADER_END = re.compile(
    r"(wrote|schrieb[^:]*|ha scritto|a (?:=C3=A9|é|e)crit|escribi(?:=C3=B3|ó|o)|skrev|schreef|"
    r"napisa[łl]\S*|написал\S*|escreveu|kirjoitti|yazd\u0131)\s*:\s*$",
    re.IGNORECASE,
)
_HEADER_START = re.compile(
    r"^(On|Le|El|Am|Il giorno|Il|Op|Den|Em|W dniu|Dne|Quoting)\b|\bwrote\s*:\s*$", re.IGNORECASE
)
_SEPARATOR = re.compile(
    r"^\s*(-{2,}\s*(Original Message|Urspr[üu]ngliche Nachricht|Message d'origine|"
    r"Mensaje original|Messaggio originale)\s*-{2,}|_{10,})\s*$",
    re.IGNORECASE,
)
_OUTLOOK_FROM = re.compile(r"^\s*\*?(From|De|Von|Da|Van|Från)\s*:\*?\s*\S", re.IGNORECASE)
_OUTLOOK_FIELD = re.compile(
    r"^\s*\*?(Sent|Date|To|Subject|Envoy[ée]|Objet|A|À|Gesendet|An|Betreff|Enviado|Asunto|"
    r"Para|Inviato|Oggetto|Cc)\s*:", re.IGNORECASE,
)
_MOBILE_SIGNATURE = re.compile(r"^\s*Sent from my \w+(\s\w+){0,3}\s*$", re.IGNORECASE)
_SIGNATURE_DELIMITER = re.compile(r"^(-- ?|--|__+)$")
MAX_SIGNATURE_LINES = 10


@dataclass(frozen=True)
class ReplyParts:
    """One body seen three ways; see the module docstring."""

    full: str
    reply: str
    visible: str

    @property
    def stripped(self) -> bool:
        """True when quotes or a signature were removed."""
        return self.visible != self.full.strip()


def _quote_header_span(lines: list[str], index: int) -> int:
    """How many lines (1-3) starting at ``index`` form a quote header, or 0."""
    first = lines[index].strip()
    if not first or first.startswith(">") or not _HEADER_START.search(first):
        return 0
    joined = ""
    for span in range(1, 4):
        if index + span - 1 >= len(lines):
            break
        line = lines[index + span - 1].strip()
        if not line:
            break
        joined = f"{joined} {line}" if joined else line
        if _HEADER_END.search(joined.replace("=\n", "")):
            return span
    return 0


def _outlook_block(lines: list[str], index: int) -> bool:
    """True when ``index`` starts an Outlook-style "From: / Sent: / To:" header block."""
    if not _OUTLOOK_FROM.match(lines[index]):
        return False
    following = [line for line in lines[index + 1 : index + 5] if line.strip()]
    return sum(1 for line in following if _OUTLOOK_FIELD.match(line)) >= 2


def strip_quotes(text: str) -> str:
    """The text without quoted history (signatures are kept)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _SEPARATOR.match(line) or _outlook_block(lines, i):
            break
        span = _quote_header_span(lines, i)
        if span:
            _drop_mobile_signature(kept)
            i += span
            continue
        if line.lstrip().startswith(">"):
            i += 1
            continue
        kept.append(line)
        i += 1
    return "\n".join(kept).strip()


def _drop_mobile_signature(kept: list[str]) -> None:
    """Remove a "Sent from my iPhone" line sitting right above a quote header."""
    while kept and not kept[-1].strip():
        kept.pop()
    if kept and _MOBILE_SIGNATURE.match(kept[-1]):
        kept.pop()


def strip_signature(text: str) -> str:
    """The text without a trailing signature ("-- " block or "Sent from my ...")."""
    lines = text.split("\n")
    for index in range(max(0, len(lines) - MAX_SIGNATURE_LINES - 1), len(lines)):
        line = lines[index].rstrip()
        is_delimiter = _SIGNATURE_DELIMITER.match(line) or _MOBILE_SIGNATURE.match(line)
        if is_delimiter and index > 0:
            return "\n".join(lines[:index]).rstrip()
    return text.rstrip()


def split_reply(text: str) -> ReplyParts:
    """Split a plain-text body into its full, reply and visible views."""
    full = text.replace("\r\n", "\n").replace("\r", "\n")
    reply = strip_quotes(full)
    visible = strip_signature(reply).strip()
    if not visible:  # everything looked quoted: show the whole text rather than nothing
        visible = reply or full.strip()
    return ReplyParts(full=full, reply=reply, visible=visible)
