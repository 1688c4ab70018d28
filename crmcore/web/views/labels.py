"""People-readable names for stored codes (stages, channels, directions, task statuses, roles).

The database keeps codes (``lead``, ``phone``); pages show the translated word. Each family
has its own gettext context because one English word can need two Persian ones ("Phone" the
channel and "Phone" the form field).
"""

from __future__ import annotations

import gettext

from crmcore.tables import CHANNELS, DIRECTIONS, STAGES, TASK_STATUSES

__all__ = ["LABEL_FAMILIES", "code_label", "code_choices"]

# family -> (gettext context, {code: English msgid})
LABEL_FAMILIES: dict[str, tuple[str, dict[str, str]]] = {
    "stage": ("lifecycle stage", {code: code.capitalize() for code in STAGES}),
    "channel": (
        "channel",
        {code: "SMS" if code == "sms" else code.capitalize() for code in CHANNELS},
    ),
    "direction": ("direction", {code: code.capitalize() for code in DIRECTIONS}),
    "status": ("task status", {code: code.capitalize() for code in TASK_STATUSES}),
    # The built-in roles; roles an admin creates are shown by their own name.
    "role": (
        "role",
        {"admin": "Administrator", "manager": "Manager", "agent": "Agent", "viewer": "Viewer"},
    ),
}


def code_label(family: str, code: str | None, translations: gettext.NullTranslations) -> str:
    """The translated word for ``code``; an unknown code (from a newer plugin or an old
    row) is shown as stored rather than hidden."""
    if not code:
        return ""
    context, words = LABEL_FAMILIES[family]
    word = words.get(code)
    return translations.pgettext(context, word) if word else code


def code_choices(family: str, translations: gettext.NullTranslations) -> list[tuple[str, str]]:
    """``(code, label)`` pairs for a select box, in the order the core defines them."""
    _context, words = LABEL_FAMILIES[family]
    return [(code, code_label(family, code, translations)) for code in words]
