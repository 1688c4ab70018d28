"""``POST /api/v1/inbound/{source}``: signed posts of interactions from other systems.

Public (no login) because the signature is the credential; see
:mod:`crmcore.services.inbound` for the body and the idempotency rule (201 created, 200 for
an external_id already stored).
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, Response, post
from litestar.params import FromPath

from crmcore.services.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER

__all__ = ["receive_inbound_post"]

MAX_BODY = 1_000_000


@post(
    "/inbound/{source:str}",
    opt={"public": True},
    tags=["webhooks"],
    summary="Receive a signed interaction from another system (idempotent by external_id)",
)
async def receive_inbound_post(
    request: Request[Any, Any, Any], source: FromPath[str]
) -> Response[dict[str, Any]]:
    from crmcore.services.inbound import receive_inbound, verify_inbound

    body = await request.body()
    if len(body) > MAX_BODY:
        return Response({"status_code": 413, "detail": "body too large"}, status_code=413)
    signed = await verify_inbound(
        source,
        request.headers.get(TIMESTAMP_HEADER),
        request.headers.get(SIGNATURE_HEADER),
        body,
    )
    if not signed:
        detail = f"unknown source, or {SIGNATURE_HEADER}/{TIMESTAMP_HEADER} missing, stale or wrong"
        return Response({"status_code": 401, "detail": detail}, status_code=401)
    try:
        data = json.loads(body)
    except ValueError:
        return Response({"status_code": 400, "detail": "the body is not JSON"}, status_code=400)
    result, created = await receive_inbound(source, data)
    return Response({**result, "duplicate": not created}, status_code=201 if created else 200)
