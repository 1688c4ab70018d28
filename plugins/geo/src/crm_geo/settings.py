"""The ``[plugins.geo]`` table of crm.toml, read with defaults and checked once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["GeoSettings", "geo_settings"]


@dataclass(frozen=True)
class GeoSettings:
    """What an administrator can tune.

    ``cooldown_minutes``: after a geofence event fired for a contact, the same event for the
    same contact and geofence stays silent this long (a phone at the edge of a fence reports
    enter/exit/enter within minutes). ``max_checkin_accuracy_m``: check-ins less precise than
    this are stored but never move a contact in or out of a geofence. ``geocode_on_save``:
    geocode a contact's address whenever it changes.
    """

    cooldown_minutes: float = 60.0
    max_checkin_accuracy_m: int = 1000
    geocode_on_save: bool = True


def _number(raw: dict[str, Any], key: str, default: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(
            f"[plugins.geo] {key} must be a number of at least 0 in crm.toml, got {value!r}"
        )
    return float(value)


def geo_settings(pm: Any) -> GeoSettings:
    """The geo settings of the instance ``pm`` was built for (defaults without one)."""
    settings = getattr(pm, "settings", None)
    raw = settings.plugin_settings("geo") if settings is not None else {}
    on_save = raw.get("geocode_on_save", True)
    if not isinstance(on_save, bool):
        raise ValueError(f"[plugins.geo] geocode_on_save must be true or false, got {on_save!r}")
    return GeoSettings(
        cooldown_minutes=_number(raw, "cooldown_minutes", 60.0),
        max_checkin_accuracy_m=int(_number(raw, "max_checkin_accuracy_m", 1000)),
        geocode_on_save=on_save,
    )
