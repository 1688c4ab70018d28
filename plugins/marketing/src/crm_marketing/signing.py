"""Signed tracking and unsubscribe URLs (HMAC-SHA256 with the instance's secret key).

A URL carries the send id and a signature over what it does (``open``, ``unsubscribe``, or
``click`` plus the target URL), so nobody can forge an open, unsubscribe someone else, or
turn the click redirect into an open redirect.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from urllib.parse import quote


@functools.lru_cache(maxsize=8)
def _keyed(secret: str) -> hmac.HMAC:
    # Copying a keyed HMAC skips the key set-up: a newsletter signs every link of every
    # message.
    return hmac.new(secret.encode(), digestmod=hashlib.sha256)


def sign(secret: str, kind: str, send_id: int, value: str = "") -> str:
    mac = _keyed(secret).copy()
    mac.update(f"{kind}\x00{send_id}\x00{value}".encode())
    return base64.urlsafe_b64encode(mac.digest()[:18]).decode().rstrip("=")


def verify(secret: str, signature: str, kind: str, send_id: int, value: str = "") -> bool:
    return hmac.compare_digest(sign(secret, kind, send_id, value), signature)


def open_url(base: str, secret: str, send_id: int) -> str:
    return f"{base}/marketing/t/o/{send_id}/{sign(secret, 'open', send_id)}.gif"


def click_url(base: str, secret: str, send_id: int, url: str) -> str:
    signature = sign(secret, "click", send_id, url)
    return f"{base}/marketing/t/c/{send_id}/{signature}?u={_quoted(url)}"


@functools.lru_cache(maxsize=4096)
def _quoted(url: str) -> str:
    return quote(url, safe="")


def unsubscribe_url(base: str, secret: str, send_id: int) -> str:
    return f"{base}/marketing/u/{send_id}/{sign(secret, 'unsubscribe', send_id)}"
