"""A contact filter of the kind a plugin adds (as geo's "within 10 km of" is), shared by the
tests of filters and of automation conditions."""

from __future__ import annotations

from crmcore.services.filters import ContactFilter


def name_starts_filter() -> ContactFilter:
    """``{"filter": "test.name_starts", "prefix": "Ro"}``: first name starts with ``prefix``."""
    return ContactFilter(
        name="test.name_starts",
        label="Name starts with",
        params={"prefix": "Prefix"},
        build=lambda params, engine: ("contact.first_name LIKE {}", [params["prefix"] + "%"]),
    )
