"""Email templates rendered in a sandbox.

Templates are written by users, so they run in Jinja's ``ImmutableSandboxedEnvironment``:
no attribute starting with ``_``, no mutation of passed objects, no Python internals. On
top of that, :func:`check_template` refuses a template that names a private attribute
(``{{ ''.__class__.__mro__ }}``) when it is saved, so the author hears about it.

Nor may a template make the sender build a huge message: string or list repetition and
powers are bounded before they are computed, and rendering stops once the output passes
:data:`MAX_OUTPUT` characters (a loop printing the same line millions of times).

The HTML part is autoescaped (a contact's name cannot inject markup); the text part is not.
Persian or Arabic content is wrapped in ``dir="rtl"``.
"""

from __future__ import annotations

import functools
import html as html_lib
import re
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from crmcore.errors import ValidationError

MAX_OUTPUT = 2_000_000
_MAX_EXPONENT = 1_000


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox, with ``*`` and ``**`` checked before they allocate or compute."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if (
                    isinstance(sequence, str | list | tuple)
                    and isinstance(times, int)
                    and len(sequence) * times > MAX_OUTPUT
                ):
                    raise SecurityError(f"a repetition longer than {MAX_OUTPUT:,} items")
        elif operator == "**" and isinstance(right, int) and abs(right) > _MAX_EXPONENT:
            raise SecurityError(f"a power above {_MAX_EXPONENT:,}")
        return super().call_binop(context, operator, left, right)


_html_env = _BoundedSandbox(autoescape=True)
_text_env = _BoundedSandbox(autoescape=False)
_RTL_CHARS = re.compile(r"[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")
_TAG = re.compile(r"<[^>]+>")
_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"'<>\s]+)\2""", re.IGNORECASE)

CONTACT_FIELDS = (
    "id", "first_name", "last_name", "title", "email", "phone", "city", "region", "country",
    "stage", "language", "source",
)  # fmt: skip


@dataclass
class RenderedEmail:
    subject: str
    html: str
    text: str

    @property
    def links(self) -> list[str]:
        """The link targets of the HTML part (the sender collects them while rewriting)."""
        return extract_links(self.html)


def check_template(source: str, part: str) -> None:
    """Refuse templates that do not parse or that reach for private attributes."""
    try:
        tree = _html_env.parse(source)
    except TemplateSyntaxError as exc:
        raise ValidationError.for_field(part, f"line {exc.lineno}: {exc.message}") from exc
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        name = getattr(node, "attr", None) or getattr(node, "name", None)
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value
        if isinstance(name, str) and name.startswith("_"):
            raise ValidationError.for_field(
                part, f"templates cannot use private names such as {name!r}."
            )


def template_contact(row: dict[str, Any]) -> dict[str, Any]:
    """The contact as templates see it: plain fields plus ``custom`` and ``display_name``."""
    contact = {key: row.get(key) or "" for key in CONTACT_FIELDS}
    contact["id"] = row.get("id")
    custom = row.get("custom")
    contact["custom"] = dict(custom) if isinstance(custom, dict) else {}
    name = f"{contact['first_name']} {contact['last_name']}".strip()
    contact["display_name"] = name or contact["email"]
    return contact


def is_rtl(text: str) -> bool:
    """True when the text is mostly written in a right-to-left script."""
    # Runs for every message: text without a single right-to-left character (all of an
    # English newsletter) is answered without counting its letters.
    rtl_chars = _RTL_CHARS.findall(text)
    if not rtl_chars:
        return False
    rtl = sum(map(str.isalpha, rtl_chars))
    return rtl > 0 and rtl * 2 >= sum(map(str.isalpha, text))


@functools.lru_cache(maxsize=256)
def _compiled(autoescape: bool, source: str) -> Any:
    """Compiled templates, cached: a broadcast renders one template thousands of times."""
    return (_html_env if autoescape else _text_env).from_string(source)


def _render(env: ImmutableSandboxedEnvironment, source: str, context: dict[str, Any]) -> str:
    try:
        parts = []
        size = 0
        for chunk in _compiled(env is _html_env, source).generate(**context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise ValidationError(
                    f"the template renders more than {MAX_OUTPUT:,} characters; "
                    "an email that large would not be delivered."
                )
            parts.append(chunk)
        return "".join(parts)
    except ValidationError:
        raise
    except SecurityError as exc:
        raise ValidationError(f"the template tried something unsafe: {exc}") from exc
    except TemplateSyntaxError as exc:
        raise ValidationError(f"template line {exc.lineno}: {exc.message}") from exc
    except Exception as exc:
        raise ValidationError(f"the template cannot be rendered: {exc}") from exc


def extract_links(html: str) -> list[str]:
    """The http(s) link targets of ``<a href>`` in rendered HTML, in order, unique."""
    seen: dict[str, None] = {}
    for match in _HREF.finditer(html):
        seen.setdefault(html_lib.unescape(match.group(3)), None)
    return list(seen)


def rewrite_links(html: str, tracked: Any, links: list[str] | None = None) -> str:
    """Replace each ``<a href>`` target with ``tracked(url)`` (the signed click redirect);
    the original targets are appended to ``links`` (in order, unique) when it is given."""
    seen: dict[str, None] = {}

    def replace(match: re.Match[str]) -> str:
        url = _unescaped(match.group(3))
        seen.setdefault(url, None)
        return f"{match.group(1)}{match.group(2)}{html_lib.escape(tracked(url))}{match.group(2)}"

    rewritten = _HREF.sub(replace, html)
    if links is not None:
        links.extend(seen)
    return rewritten


@functools.lru_cache(maxsize=4096)
def _unescaped(href: str) -> str:
    return html_lib.unescape(href)


def render_email(
    template: dict[str, Any],
    contact_row: dict[str, Any],
    *,
    subject: str | None = None,
    extra: dict[str, Any] | None = None,
) -> RenderedEmail:
    """Render subject, HTML and text for one contact. ``extra`` adds variables such as
    ``unsubscribe_url``. The HTML gets a ``dir="rtl"`` wrapper when its text is Persian or
    Arabic; without a text part, one is derived from the HTML."""
    context = {"contact": template_contact(contact_row), **(extra or {})}
    subject_text = _render(_text_env, subject or template.get("subject") or "", context)
    html = _render(_html_env, template.get("html") or "", context)
    text = _render(_text_env, template.get("text") or "", context)
    if html:
        plain = html_lib.unescape(_TAG.sub("", html))
        text = text or plain.strip()
        if is_rtl(plain):
            html = f'<div dir="rtl" lang="fa" style="direction:rtl;text-align:right">{html}</div>'
    return RenderedEmail(subject=" ".join(subject_text.split()), html=html, text=text)


def render_text(source: str, contact_row: dict[str, Any]) -> str:
    """A one-line template (task titles) rendered for a contact, sandboxed."""
    return _render(_text_env, source, {"contact": template_contact(contact_row)})
