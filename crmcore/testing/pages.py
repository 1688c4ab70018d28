"""Reading rendered pages the way a person does, for tests of translated pages.

``untranslated_texts(html, "fa", data=[...])`` lists what a Persian page still shows in
Latin letters once the data values (names, e-mail addresses, codes a user typed) are taken
out: UI text a catalog missed. Core and plugin suites use the same check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html.parser import HTMLParser

__all__ = ["untranslated_texts", "visible_texts"]

LATIN = re.compile(r"[A-Za-z]")


class _TextCollector(HTMLParser):
    """Visible text and user-facing attributes of a page, skipping scripts, styles and
    anything marked as being in another language (``lang="en"`` on a language picker)."""

    SKIP = {"script", "style"}
    ATTRIBUTES = ("placeholder", "aria-label", "title", "alt")
    VOID = {"input", "br", "img", "meta", "link", "hr", "source", "col", "area", "wbr"}

    def __init__(self, page_lang: str) -> None:
        super().__init__()
        self.page_lang = page_lang
        self.stack: list[tuple[str, bool]] = []
        self.texts: list[str] = []

    def _hidden(self) -> bool:
        return any(hidden for _tag, hidden in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        lang = values.get("lang")
        hidden = tag in self.SKIP or (lang is not None and lang != self.page_lang and tag != "html")
        if not hidden and not self._hidden():
            self.texts.extend(v for k in self.ATTRIBUTES if (v := values.get(k)))
            if (
                tag == "input"
                and values.get("type") in ("submit", "button")
                and values.get("value")
            ):
                self.texts.append(values["value"] or "")
        if tag not in self.VOID:
            self.stack.append((tag, hidden))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                break

    def handle_data(self, data: str) -> None:
        if data.strip() and not self._hidden():
            self.texts.append(data.strip())


def visible_texts(html: str, page_lang: str) -> list[str]:
    """The texts a reader of the page sees, in document order (with titles, placeholders
    and accessible labels), leaving out parts marked as another language."""
    collector = _TextCollector(page_lang)
    collector.feed(html)
    return collector.texts


def untranslated_texts(html: str, page_lang: str, data: Iterable[str] = ()) -> list[str]:
    """The visible texts that still hold Latin letters after every ``data`` value is removed
    (longest first, so "Maryam Sadeghi" goes before "Maryam"). Empty on a fully translated
    page in a language not written in Latin letters."""
    values = sorted(data, key=len, reverse=True)
    leftovers = []
    for text in visible_texts(html, page_lang):
        rest = text
        for value in values:
            rest = rest.replace(value, "")
        if LATIN.search(rest):
            leftovers.append(text)
    return leftovers
