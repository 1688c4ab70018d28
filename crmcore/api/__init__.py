"""The REST API (``/api/v1``): Litestar controllers with explicit msgspec structs.

Each feature's controllers live in their own module and are registered by the built-in
plugin that owns the feature, through ``register_api_routes``.
"""

from __future__ import annotations

from typing import Any


def core_api_handlers() -> list[Any]:
    """Controllers of the core built-in: contacts, companies, tags, custom fields."""
    from crmcore.api.companies import CompanyController
    from crmcore.api.contacts import ContactController
    from crmcore.api.custom_fields import CustomFieldController
    from crmcore.api.tags import TagController

    return [ContactController, CompanyController, TagController, CustomFieldController]
