"""Make notebook output HTML safe for a self-contained, offline report.

The phase notebooks escape data text themselves (cpkit.display), but a report must stay
safe and offline even when a notebook slips: this pass, built on the standard library's
HTML tokenizer, edits only what needs editing and leaves every other byte as it was
(inline SVG keeps its camelCase attributes):

* elements that run code or load other documents (``script``, ``iframe``, ``object``,
  ``embed``, ``link``, ``meta``, ``base``, ``frame``, ``frameset``, ``applet``) are shown as
  escaped text -- an enterprise called ``<script>alert(1)</script>`` reads as that text;
* event-handler attributes (``onclick`` ...) are removed, ``javascript:`` URLs removed;
* resources from outside (``src``/``href``/``xlink:href``/``poster``/``srcset``/``data``/
  ``action`` with ``http:``, ``https:``, ``ftp:`` or ``//``; CSS ``url(...)`` and
  ``@import`` pointing outside) are removed; links a reader clicks (``<a href>``) stay;
* headings ``h1``-``h3`` get a unique ``id`` (kept when the notebook gave one) and their
  text is collected for the table of contents.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser

BLOCKED = frozenset(
    {"script", "iframe", "object", "embed", "link", "meta", "base", "frame", "frameset", "applet"}
)
URL_ATTRS = frozenset(
    {"src", "href", "xlink:href", "poster", "srcset", "data", "action", "formaction", "background"}
)
_EXTERNAL = re.compile(r"^\s*(?:(?:https?|ftp|file):|//)", re.I)
_SCRIPT_URL = re.compile(r"^\s*(?:javascript|vbscript|data\s*:\s*text/html)", re.I)
_CSS_EXTERNAL = re.compile(
    r"""@import[^;]*;?|url\(\s*(['"]?)\s*(?:(?:https?|ftp|file):|//)[^)]*\)""", re.I
)
_ATTR = re.compile(r"""(\s+)([^\s"'>/=]+)(\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?""")


@dataclass(frozen=True)
class Heading:
    """A heading of the report: level 1-3, its text and its anchor id."""

    level: int
    text: str
    anchor: str


@dataclass
class Cleaned:
    """Result of :func:`clean`: the safe HTML, its headings, what was changed."""

    html: str
    headings: list[Heading] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)


class _Scanner(HTMLParser):
    def __init__(self, text: str, new_id: Callable[[str | None], str]):
        super().__init__(convert_charrefs=True)
        self.text = text
        self.new_id = new_id
        self.line_starts = [0]
        for m in re.finditer("\n", text):
            self.line_starts.append(m.end())
        self.edits: list[tuple[int, int, str]] = []
        self.changes: list[str] = []
        self.headings: list[Heading] = []
        self.blocked_depth: list[str] = []
        self.heading: tuple[int, str] | None = None
        self.heading_text: list[str] = []
        self.in_style = False

    def _offset(self) -> int:
        line, col = self.getpos()
        return self.line_starts[line - 1] + col

    def _tag(self, tag: str, attrs: list[tuple[str, str | None]], closing: bool) -> None:
        start = self._offset()
        raw = self.get_starttag_text() or ""
        end = start + len(raw)
        if tag in BLOCKED:
            self.edits.append((start, end, html.escape(raw)))
            self.changes.append(f"<{tag}> shown as text")
            if not closing and tag in ("script", "iframe", "object", "applet", "frameset"):
                self.blocked_depth.append(tag)
            return
        drop = set()
        for name, value in attrs:
            value = value or ""
            if (
                name.startswith("on")
                or (
                    name in URL_ATTRS
                    and (_SCRIPT_URL.match(value) or (_EXTERNAL.match(value) and tag != "a"))
                )
                or (
                    name == "style"
                    and (_CSS_EXTERNAL.search(value) or "expression(" in value.lower())
                )
            ):
                drop.add(name)
        new = raw
        if drop:
            new = _ATTR.sub(lambda m: "" if m.group(2).lower() in drop else m.group(0), raw)
            self.changes.append(f"<{tag}>: removed {', '.join(sorted(drop))}")
        if tag in ("h1", "h2", "h3") and not closing:
            given = dict(attrs).get("id")
            anchor = self.new_id(given)
            if given is None:
                new = re.sub(
                    r"^<\s*h[1-3]", lambda m: f'{m.group(0)} id="{anchor}"', new, flags=re.I
                )
            elif anchor != given:
                new = _ATTR.sub(
                    lambda m: (
                        f'{m.group(1)}id="{anchor}"' if m.group(2).lower() == "id" else m.group(0)
                    ),
                    new,
                )
            self.heading = (int(tag[1]), anchor)
            self.heading_text = []
        if tag == "style" and not closing:
            self.in_style = True
        if new != raw:
            self.edits.append((start, end, new))

    def handle_starttag(self, tag, attrs):
        self._tag(tag, attrs, closing=False)

    def handle_startendtag(self, tag, attrs):
        self._tag(tag, attrs, closing=True)

    def handle_endtag(self, tag):
        start = self._offset()
        if tag in BLOCKED:
            m = re.compile(r"</\s*" + re.escape(tag) + r"\s*>", re.I).match(self.text, start)
            end = m.end() if m else start + len(tag) + 3
            self.edits.append((start, end, html.escape(self.text[start:end])))
            if self.blocked_depth and self.blocked_depth[-1] == tag:
                self.blocked_depth.pop()
            return
        if tag == "style":
            self.in_style = False
        if self.heading and tag == f"h{self.heading[0]}":
            text = re.sub(r"\s+", " ", "".join(self.heading_text)).strip()
            self.headings.append(Heading(self.heading[0], text, self.heading[1]))
            self.heading = None

    def handle_data(self, data):
        if self.heading is not None:
            self.heading_text.append(data)
        if self.blocked_depth or self.in_style:
            start = self._offset()
            raw = self.text[start : start + len(data)]
            if raw != data:  # entities were converted: find the raw extent up to the next tag
                nxt = self.text.find("<", start)
                raw = self.text[start : nxt if nxt >= 0 else len(self.text)]
            if self.blocked_depth:
                self.edits.append((start, start + len(raw), html.escape(html.unescape(raw))))
            elif _CSS_EXTERNAL.search(raw):
                self.edits.append((start, start + len(raw), _CSS_EXTERNAL.sub(_css_repl, raw)))
                self.changes.append("external CSS reference removed")


def _css_repl(m: re.Match) -> str:
    return "" if m.group(0).lower().startswith("@import") else "none"


def clean(text: str, new_id: Callable[[str | None], str]) -> Cleaned:
    """Return ``text`` made safe (see the module docstring) with its headings.

    ``new_id(given)`` returns the anchor to use for a heading (``given`` is the id the
    notebook set, or None); it must return unique values.
    """
    scanner = _Scanner(text, new_id)
    scanner.feed(text)
    scanner.close()
    out = text
    for start, end, repl in sorted(scanner.edits, key=lambda e: e[0], reverse=True):
        out = out[:start] + repl + out[end:]
    return Cleaned(out, scanner.headings, scanner.changes)
