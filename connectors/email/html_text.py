"""Turning an HTML mail body into readable plain text (standard library only).

Block elements become line breaks, ``<br>`` a newline, list items a ``- ``
bullet, links keep their target when it differs from their text, and
``<blockquote>`` content is prefixed with ``> `` so the reply splitter treats
it as a quotation, exactly as it would in a plain-text reply. Styles, scripts
and comments (including Outlook's conditional comments) are dropped.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

BLOCK_TAGS = frozenset(
    {
        "p", "div", "table", "tr", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
        "pre", "hr", "section", "article", "header", "footer", "form", "center",
        "address", "dl", "dt", "dd", "title",
    }
)
SKIPPED_TAGS = frozenset({"style", "script", "head", "xml", "template", "noscript"})
_SPACES = re.compile(r"[ \t\r\f\v\u200b]+")


class _TextBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.quote_depth = 0
        self.skip_depth = 0
        self.pre_depth = 0
        self.link_href: list[str | None] = []
        self.link_text_start: list[int] = []

    def _break(self, blank: bool = False) -> None:
        if self.lines[-1].strip():
            self.lines.append("")
        if blank and len(self.lines) > 1 and self.lines[-2].strip():
            self.lines.append("")

    def _write(self, text: str) -> None:
        if not self.lines[-1] and self.quote_depth:
            self.lines[-1] = "> " * self.quote_depth
        self.lines[-1] += text

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED_TAGS:
            self.skip_depth += 1
        elif tag == "br":
            if not self.lines[-1] and self.quote_depth:
                self.lines[-1] = ">"
            self.lines.append("")
        elif tag == "blockquote":
            self._break()
            self.quote_depth += 1
        elif tag == "li":
            self._break()
            self._write("- ")
        elif tag == "pre":
            self._break()
            self.pre_depth += 1
        elif tag in BLOCK_TAGS:
            self._break(blank=tag == "p")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt and not self.skip_depth:
                self._write(f"[{alt}]")
        elif tag == "a":
            self.link_href.append(dict(attrs).get("href"))
            self.link_text_start.append(len(self.lines[-1]))
        elif tag in ("td", "th"):
            self._write(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED_TAGS:
            return
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED_TAGS:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag == "blockquote":
            self._break()
            self.quote_depth = max(0, self.quote_depth - 1)
        elif tag == "pre":
            self.pre_depth = max(0, self.pre_depth - 1)
            self._break()
        elif tag in BLOCK_TAGS or tag == "li":
            self._break(blank=tag == "p")
        elif tag == "a" and self.link_href:
            href = self.link_href.pop()
            start = self.link_text_start.pop()
            shown = self.lines[-1][start:].strip()
            if href and href.startswith(("http://", "https://")) and href != shown:
                self._write(f" ({href})" if shown else href)

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.pre_depth:
            for i, piece in enumerate(data.split("\n")):
                if i:
                    self.lines.append("")
                self._write(piece)
            return
        text = _SPACES.sub(" ", data.replace("\n", " ").replace("\u00a0", " "))
        if not self.lines[-1].strip(" >"):
            text = text.lstrip()
        if text:
            self._write(text)


def html_to_text(html: str) -> str:
    """Readable plain text for an HTML document or fragment."""
    builder = _TextBuilder()
    try:
        builder.feed(html)
        builder.close()
    except Exception:  # HTMLParser is lenient; this guards pathological input only
        return re.sub(r"<[^>]+>", " ", html).strip()
    lines = [line.rstrip() for line in builder.lines]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()
