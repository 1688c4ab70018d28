"""Fuzzing the REST API from its own OpenAPI document with schemathesis.

A real ``crm serve`` (the in-repo plugins loaded) answers requests generated from
``/schema/openapi.json``, authenticated as an admin with a Bearer token. Every operation
under ``/api/v1`` gets ``CRM_FUZZ_EXAMPLES`` generated cases (5 by default) and each
response must not be a server error and must match the schema the document declares.
All failures are collected and reported together, one line per operation.

``KNOWN_FAILURES`` names single operations with a bug that is reported but not yet fixed,
and why; everything else is checked in full.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.serving_support import crm_server, server_log

EXAMPLES = int(os.environ.get("CRM_FUZZ_EXAMPLES", "5"))
# To reproduce one failure: CRM_FUZZ_ONLY=/api/v1/companies (paths containing it) and
# CRM_DEBUG=1 (the server answers 500s with its traceback).
ONLY = os.environ.get("CRM_FUZZ_ONLY", "")
REQUEST_TIMEOUT = 15.0  # seconds: an answer slower than this is a failure, not a wait

# (METHOD, path template) -> why it is still expected to fail.
KNOWN_FAILURES: dict[tuple[str, str], str] = {}


# The plugins shipped in this repository (what CI installs), not whatever else is installed.
PLUGINS = ["geo", "hr", "projects", "marketing"]


@pytest.mark.slow
@pytest.mark.crm_plugins(*PLUGINS)
def test_api_fuzz_no_server_errors_responses_match_schema(
    crm_run: Any, crm_settings: Any, crm_home: Path
) -> None:
    schemathesis = pytest.importorskip("schemathesis")
    import httpx
    from hypothesis import HealthCheck, Phase, given, settings

    from crmcore.services.tokens import create_token
    from crmcore.services.users import create_user

    admins = iter(range(1_000_000))

    async def admin_token() -> str:
        email = f"fuzz{next(admins)}@example.com"
        user = await create_user(email=email, password="f" * 16, role="admin")
        return await create_token(user_id=user["id"], name="fuzz")

    headers = {"Authorization": f"Bearer {crm_run(admin_token())}"}
    checks = [
        schemathesis.checks.not_a_server_error,
        schemathesis.checks.response_schema_conformance,
    ]
    failures: dict[tuple[str, str], str] = {}
    signed_out_by: list[Any] = []
    tried = 0
    with crm_server(crm_home, crm_settings.database_url, plugins=PLUGINS) as base:
        schema = schemathesis.openapi.from_url(f"{base}/schema/openapi.json", headers=headers)
        operations = [
            result.ok()
            for result in schema.get_all_operations()
            if result.ok().path.startswith("/api/v1")
        ]
        assert len(operations) > 50, "the API document lists too few operations"
        operations = [op for op in operations if ONLY in op.path]

        previous = None
        for operation in operations:
            key = (operation.method.upper(), operation.path)
            # Fuzzed calls may rightly revoke our token, deactivate or demote our admin
            # (DELETE /tokens/{id}, PATCH /users/{id}): start each operation signed in.
            probe = httpx.get(f"{base}/api/v1/contacts/?limit=1", headers=headers, timeout=10)
            if probe.status_code in (401, 403):
                signed_out_by.append(previous)
                headers["Authorization"] = f"Bearer {crm_run(admin_token())}"
            previous = key

            @given(case=operation.as_strategy())
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def fuzz(case: Any) -> None:
                response = case.call(base_url=base, headers=dict(headers), timeout=REQUEST_TIMEOUT)
                case.validate_response(response, checks=checks)

            tried += 1
            try:
                fuzz()
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # noqa: BLE001 - schemathesis raises exception groups
                failures[key] = f"{type(exc).__name__}: {str(exc)[:2000]}"

        log = server_log(crm_home)

    unexpected = {k: v for k, v in failures.items() if k not in KNOWN_FAILURES}
    fixed = [k for k in KNOWN_FAILURES if k not in failures]
    report = "\n\n".join(f"{m} {p}\n{why}" for (m, p), why in sorted(unexpected.items()))
    assert not unexpected, f"{len(unexpected)} of {tried} operations failed:\n{report}\n{log}"
    assert not fixed, f"known failures that now pass (remove them from KNOWN_FAILURES): {fixed}"
